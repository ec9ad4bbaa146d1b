"""The two-stage shutdown: first signal soft, second hard, a repeat within a second ignored."""

from __future__ import annotations

import os
import signal

import pytest

from storyreel.shutdown import REPEAT_SECONDS, Shutdown


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_first_stop_is_soft_and_a_second_one_is_hard() -> None:
    calls: list[str] = []
    clock = Clock()
    stop = Shutdown(on_soft=lambda: calls.append("soft"), on_hard=lambda signum: calls.append(f"hard {signum}"),
                    clock=clock)
    stop.request_stop()
    assert stop.soft.is_set() and not stop.hard.is_set()
    clock.now += REPEAT_SECONDS + 0.01
    stop.request_force_stop(signal.SIGINT)
    assert stop.hard.is_set()
    assert calls == ["soft", f"hard {signal.SIGINT}"]


def test_a_repeat_within_a_second_is_the_same_stop() -> None:
    clock = Clock()
    stop = Shutdown(clock=clock)
    stop.request_stop()
    clock.now += REPEAT_SECONDS - 0.01
    stop.request_force_stop()
    assert stop.soft.is_set() and not stop.hard.is_set()
    clock.now += 0.02
    stop.request_force_stop()
    assert stop.hard.is_set()


def test_real_signals_reach_the_two_stages() -> None:
    clock = Clock()
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop = Shutdown(clock=clock).install()
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.soft.wait(5) and not stop.hard.is_set()
        os.kill(os.getpid(), signal.SIGINT)  # at once: a duplicate of the first
        assert not stop.hard.wait(0.2)
        clock.now += REPEAT_SECONDS
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.hard.wait(5)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_hard_stop_with_nothing_to_hand_back_exits_with_the_signal_status(signum: int, status: int) -> None:
    import subprocess
    import sys

    code = ("import os, signal, time\n"
            "from storyreel.shutdown import Shutdown, exit_at_once\n"
            "clock = iter([0.0, 5.0])\n"
            "stop = Shutdown(on_hard=exit_at_once, clock=lambda: next(clock)).install()\n"
            "print('ready', flush=True)\n"
            "stop.soft.wait(30)\n"
            "print('soft', flush=True)\n"
            "time.sleep(30)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signum)
        assert proc.stdout.readline().strip() == "soft"  # two signals at once would arrive as one
        proc.send_signal(signum)
        assert proc.wait(30) == status
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
