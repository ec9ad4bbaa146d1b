"""The operator's steering: cancel, retry and replan tasks; pause, resume and drain nodes.

Everything goes through the main worker, the only writer: `storyreel cancel|retry|replan|node`
and the dashboard's buttons ask this over HTTP (POST /api/v1/control, project token only).
Each action takes the coordinator's lock and the hold store's, as every move does.

- cancel: a queued task goes to trash/failed/ as cancelled; a held one too, its hold ended as
  CANCELLED, so its node hears it at its next heartbeat (`revoked`) and every later request of
  that attempt, its upload too, is refused (410).
- retry: a failed (or cancelled) task's folder stays in trash/failed/ as history; its
  reason.json gets `"replan": true` and `retried_at`, and the planner plans the chapter again
  with today's settings.
- replan: a queued task goes to trash/failed/ with `"replan": true`: built again at once.
- pause: the node claims nothing; the tasks it holds go back to the queue for other nodes
  (their holds end as REVOKED, the node told as for a cancel). drain: it finishes what it
  holds and claims nothing new. resume: it claims again. A node that fails
  `[coordinator] pause_after_failures` different tasks in a row is paused the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from storyreel import lifecycle
from storyreel.coordinator.holds import Outcome
from storyreel.coordinator.nodes import Steering
from storyreel.coordinator.taskref import TaskNames, TaskRef
from storyreel.errors import FilesystemError, SteerRefused
from storyreel.layout import Layout, TaskState
from storyreel.logs import MAIN_WORKER, Event, get_logger
from storyreel.protocol import (
    NODE_ACTIONS,
    SteerAction,
    SteerBoard,
    SteerNode,
    SteerReply,
    SteerRequest,
    SteerTask,
)

if TYPE_CHECKING:
    from storyreel.coordinator.service import Coordinator

log = get_logger(MAIN_WORKER)

# The board lists at most this many failed tasks (the newest): trash/failed/ is history.
BOARD_FAILED = 200
_LIVE = (TaskState.QUEUED, TaskState.PROCESSING)


class Control:
    """The operator's actions on one coordinator's tasks and nodes."""

    def __init__(self, coordinator: Coordinator, *, on_retry: Callable[[str], None] | None = None) -> None:
        self.co = coordinator
        self.layout = coordinator.layout
        self.names = TaskNames(coordinator.layout)
        self._on_retry = on_retry or (lambda _task_id: None)

    def act(self, request: SteerRequest) -> SteerReply:
        """Do one action; UnknownTask (404) or SteerRefused (409) when it does not apply."""
        action = request.action
        if action in NODE_ACTIONS:
            return self.steer_node(request.target.strip(), action)
        if action == SteerAction.CANCEL:
            return self.cancel(request.target)
        if action == SteerAction.REPLAN:
            return self.replan(request.target)
        if action == SteerAction.RETRY:
            return self.retry(request.target)
        return self.retry_failed()

    # -- tasks -----------------------------------------------------------------------------
    def cancel(self, ref: str) -> SteerReply:
        co = self.co
        with co._lock, co.holds.lock:
            task = self.names.resolve(ref, _LIVE, "cancel")
            held_by = self._cancel(task.task_id, task.state)
            parts = co.splits.live_parts(self.layout.task_dir(task.task_id, TaskState.FAILED))
            for seg_id, state in parts:  # a split chapter's parts stop with it
                self._cancel(seg_id, state)
        told = f"; node {held_by} is told at its next heartbeat" if held_by else ""
        if parts:
            told += f"; its {len(parts)} unfinished part(s) are cancelled too"
        log.warning("Task %s cancelled by the operator%s", task.label(), told)
        by = {"node": held_by} if held_by else {}
        co.project.events.emit(Event.FAILED, task_id=task.task_id, reason=lifecycle.CANCELLED_REASON,
                               cancelled=True, **by)
        return SteerReply(action=SteerAction.CANCEL, task_ids=[task.task_id],
                          message=f"cancelled {task.label()}: moved to trash/failed/{told}")

    def _cancel(self, task_id: str, state: TaskState) -> str:
        """Cancel one queued or held task; the node that held it, or ""."""
        co = self.co
        if state == TaskState.QUEUED:
            lifecycle.cancel(self.layout, task_id)
            co.queue.discard(task_id)
            return ""
        hold = co.holds.load(task_id)
        held_by = hold.node if hold else ""
        lifecycle.cancel(self.layout, task_id, node=held_by, attempt=hold.attempt if hold else 0)
        co.holds.end(task_id, Outcome.CANCELLED)
        return held_by

    def replan(self, ref: str) -> SteerReply:
        co = self.co
        with co._lock, co.holds.lock:
            task = self.names.resolve(ref, (TaskState.QUEUED,), "replan")
            lifecycle.replan(self.layout, task.task_id)
            co.queue.discard(task.task_id)
        log.info("Task %s replanned by the operator: its chapter is planned again", task.label())
        return SteerReply(action=SteerAction.REPLAN, task_ids=[task.task_id],
                          message=f"replanned {task.label()}: the chapter is planned again with "
                                  "today's settings (the old task is kept in trash/failed/)")

    def retry(self, ref: str) -> SteerReply:
        with self.co._lock:
            task = self.names.resolve(ref, (TaskState.FAILED,), "retry")
            self._retry(task, lifecycle.ChapterIndex(self.layout).tasks())
        log.info("Task %s retried by the operator: its chapter is planned again", task.label())
        return SteerReply(action=SteerAction.RETRY, task_ids=[task.task_id],
                          message=f"retried {task.label()}: the chapter is planned again with today's settings")

    def retry_failed(self) -> SteerReply:
        """Retry every failed task whose chapter has no other task and was not retried yet."""
        retried: list[str] = []
        done: set[lifecycle.TaskKey | None] = set()  # retried by this call: one retry each is enough
        skipped = 0
        with self.co._lock:
            chapters = lifecycle.ChapterIndex(self.layout).tasks()
            for task in self.names.every((TaskState.FAILED,)):
                try:
                    if _key(self.layout, task) in done - {None}:
                        raise SteerRefused(f"the chapter of {task.label()} was retried already")
                    done.add(self._retry(task, chapters))
                except SteerRefused:
                    skipped += 1
                    continue
                retried.append(task.task_id)
        log.info("%d failed task(s) retried by the operator", len(retried))
        note = f"; {skipped} skipped (retried already or planned again)" if skipped else ""
        return SteerReply(action=SteerAction.RETRY_FAILED, task_ids=retried,
                          message=f"retried {len(retried)} failed task(s){note}")

    def _retry(self, task: TaskRef, chapters: dict[lifecycle.TaskKey, str]) -> lifecycle.TaskKey | None:
        """Mark one failed task retried (returns its chapter and profile); SteerRefused when
        that chapter is planned again in that profile already."""
        record = lifecycle.failure_reason(self.layout, task.task_id) or {}
        if record.get(lifecycle.REPLAN_KEY) is True:
            raise SteerRefused(f"{task.label()} was retried already: its chapter is planned again")
        chapter = _key(self.layout, task)
        other = chapters.get(chapter) if chapter else None
        if other and other != task.task_id:
            found = self.layout.find_task(other)
            if found and found[0] != TaskState.FAILED:
                raise SteerRefused(f"the chapter of {task.label()} has task {other} ({found[0]}) already")
        try:
            lifecycle.mark_retried(self.layout, task.task_id)
        except FilesystemError as exc:
            raise SteerRefused(f"cannot retry {task.label()}: {exc.reason}") from exc
        self._on_retry(task.task_id)
        return chapter

    def supersede(self, chapter: str) -> list[str]:
        """An operator's voice replaced `chapter`'s synthesized one: each of its render tasks
        gives way (lifecycle.supersede; a held one's node is told as for a cancel). Returns
        their ids."""
        co = self.co
        with co._lock, co.holds.lock:
            found = lifecycle.render_tasks_of(self.layout, chapter)
            for task_id, state in found:
                details = {}
                if state == TaskState.PROCESSING:
                    hold = co.holds.load(task_id)
                    details = {"node": hold.node, "attempt": hold.attempt} if hold else {}
                    co.holds.end(task_id, Outcome.CANCELLED)
                lifecycle.supersede(self.layout, task_id, state, **details)  # tells the chapter indexes
                co.queue.discard(task_id)
        return [task_id for task_id, _ in found]

    # -- nodes -----------------------------------------------------------------------------
    def steer_node(self, node: str, action: SteerAction, reason: str = "by the operator") -> SteerReply:
        steering = {SteerAction.PAUSE: Steering.PAUSED, SteerAction.DRAIN: Steering.DRAINING}.get(
            action, Steering.ACTIVE)
        co = self.co
        with co._lock, co.holds.lock:
            co.nodes.steer(node, steering, "" if steering == Steering.ACTIVE else reason)
            back = self._revoke_holds(node) if steering == Steering.PAUSED else []
        what = {Steering.PAUSED: "paused: it claims nothing",
                Steering.DRAINING: "draining: it finishes what it holds and claims nothing new",
                Steering.ACTIVE: "resumed: it claims tasks again"}[steering]
        gone = f"; {len(back)} task(s) it held went back to the queue" if back else ""
        log.info("Render node %s %s (%s)%s", node, what, reason, gone)
        return SteerReply(action=action, task_ids=back, message=f"node {node} {what}{gone}")

    def after_failure(self, node: str, task_id: str) -> None:
        """`node` failed `task_id` (under the coordinator's locks): pause it after
        `pause_after_failures` different tasks in a row."""
        limit = self.co.settings.pause_after_failures
        if not self.co.nodes.failed(node, task_id, limit):
            return
        back = self._revoke_holds(node)
        log.warning("Render node %s paused: it failed %d different tasks in a row%s; "
                    "`storyreel node resume ROOT %s` lets it claim again", node, limit,
                    f" ({len(back)} task(s) it held went back to the queue)" if back else "", node)

    def _revoke_holds(self, node: str) -> list[str]:
        """Every task `node` holds goes back to the queue (its node told at its next beat)."""
        back = [hold.task_id for hold in self.co.holds.holds() if hold.node == node]
        for task_id in back:
            self.co._requeue(task_id, Outcome.REVOKED)
        return back

    # -- the board ---------------------------------------------------------------------------
    def board(self) -> SteerBoard:
        """The tasks and nodes an operator can act on, with the actions that apply now."""
        holders = {hold.task_id: hold.node for hold in self.co.holds.holds()}
        tasks = [self._line(t, holders) for t in self.names.every(_LIVE)]
        failed = self.names.every((TaskState.FAILED,))
        failed.sort(key=self.names._failed_at, reverse=True)
        tasks += [self._line(t, holders) for t in failed[:BOARD_FAILED]]
        nodes = []
        for row in self.co.nodes_snapshot():
            state = str(row.get("state"))
            actions = ["resume"] if state in (Steering.PAUSED, Steering.DRAINING) else ["pause", "drain"]
            nodes.append(SteerNode(node=str(row["node"]), state=state, reason=str(row.get("steer_reason") or ""),
                                   actions=actions))
        return SteerBoard(tasks=tasks, nodes=nodes)

    def _line(self, task: TaskRef, holders: dict[str, str]) -> SteerTask:
        names = task.names
        line = SteerTask(task_id=task.task_id, state=str(task.state), category=names.category,
                         story=names.story, chapter=names.chapter, node=holders.get(task.task_id, ""))
        if task.state == TaskState.QUEUED:
            line.actions = [SteerAction.CANCEL, SteerAction.REPLAN]
        elif task.state == TaskState.PROCESSING:
            line.actions = [SteerAction.CANCEL]
        else:
            record = lifecycle.failure_reason(self.layout, task.task_id) or {}
            planned_again = record.get(lifecycle.REPLAN_KEY) is True
            line.reason = str(record.get("reason") or "")
            if planned_again and "planned again" not in line.reason:
                line.reason += " · planned again"
            line.actions = [] if planned_again else [SteerAction.RETRY]
        return line


def _key(layout: Layout, task: TaskRef) -> lifecycle.TaskKey | None:
    """The task's chapter (relative to the root) and profile as metadata.json names them."""
    return lifecycle.key_of(layout.task_dir(task.task_id, task.state))
