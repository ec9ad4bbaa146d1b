"""The render node's limits (node/limits.py) on a clock the test moves."""

from __future__ import annotations

from storyreel.node.limits import DEFAULT_GRACE_SECONDS, Limits


class Clock:
    """A clock the test moves: `clock.now += 5`."""

    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_max_tasks_counts_every_grant_and_none_means_no_limit() -> None:
    limits = Limits(max_tasks=2)
    assert limits.may_claim(0) and limits.may_claim(1)
    assert not limits.may_claim(2)
    assert Limits().may_claim(10_000)


def test_idle_clock_starts_when_the_node_last_held_something() -> None:
    clock = Clock()
    limits = Limits(exit_when_idle=5.0, clock=clock)
    clock.now += 4.9
    assert not limits.idle_over(holding=False)
    clock.now += 0.1
    assert limits.idle_over(holding=False)
    assert not limits.idle_over(holding=True)  # busy again: the clock starts over
    clock.now += 4.0
    assert not limits.idle_over(holding=False)
    limits.busy()
    clock.now += 4.9
    assert not limits.idle_over(holding=False)
    clock.now += 0.2
    assert limits.idle_over(holding=False)


def test_without_exit_when_idle_a_node_is_never_idle_for_good() -> None:
    clock = Clock()
    limits = Limits(clock=clock)
    clock.now += 10 ** 6
    assert not limits.idle_over(holding=False)


def test_grace_runs_from_the_first_stop_only() -> None:
    clock = Clock()
    limits = Limits(grace=3.0, clock=clock)
    assert Limits().grace == DEFAULT_GRACE_SECONDS == 120.0  # the documented default
    clock.now += 50
    assert not limits.grace_over()  # no stop yet
    limits.stopping()
    clock.now += 2.9
    limits.stopping()  # a later stop does not move the start
    assert not limits.grace_over()
    clock.now += 0.1
    assert limits.grace_over()
    assert not Limits(grace=None, clock=clock).grace_over()
