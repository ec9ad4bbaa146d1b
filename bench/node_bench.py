"""Benchmark 2: the node pipeline, serial vs overlapped, over a throttled link.

A queue of tasks is served by `storyreel main --listen`; the node reaches it
through a bandwidth-limited TCP proxy (bench/throttle.py) set so that one task's
download + upload take about 30 % of its render time (calibrated first with one task
through the serial node on an unlimited link). Variants, interleaved:

- serial:     bench/serial_node.py — the product's client and renderer, one task at a time
- overlapped: `storyreel render --copy-inputs` — the product's three-stage pipeline

Figures come from the event log the coordinator writes (claimed → completed span,
`rendered` seconds), as SPEC §10's metrics do.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import farmproc as farm
import media
from harness import TreeRssSampler, median, mib
from media import ClipSpec
from report import Section
from tasks import file_inputs, queue_tasks
from throttle import ThrottledProxy

from storyreel.layout import Layout, TaskState
from storyreel.logs import Event, read_events
from storyreel.project import Project

HERE = Path(__file__).resolve().parent
FULL = {
    "tasks": 10,
    "voice": 5.0,
    "render": {"resolution": "854x480", "preset": "veryfast"},
    "clips": [ClipSpec("testsrc2", 1280, 720, 30, 4), ClipSpec("life", 960, 540, 30, 3)],
}
SMOKE = {
    "tasks": 2,
    "voice": 2.0,
    "render": {"resolution": "160x90", "preset": "ultrafast"},
    "clips": [ClipSpec("testsrc2", 160, 90, 25, 1), ClipSpec("life", 192, 108, 30, 1.5)],
}
# Download + upload time as a share of render time, as the issue sets it.
IO_SHARE = 0.30
ENCODER = "libx264"


def _render_spec(sizes: dict) -> dict:
    return {
        "frame_rate": 30,
        "logo": "",
        "output_format": "mp4",
        "encoder": ENCODER,
        "quality": 23,
        **sizes["render"],
    }


def _queue(root: Path, work: Path, sizes: dict, count: int) -> tuple[Project, list[str]]:
    if root.exists():
        shutil.rmtree(root)
    project = Project.init(root)
    src = work / "media"
    made = [(media.clip(src, c), c.width, c.height, c.seconds) for c in sizes["clips"]]
    files = file_inputs(
        project.layout,
        made,
        media.narration(src, sizes["voice"]),
        media.music(src, sizes["voice"] / 2),
        sizes["voice"] / 2,
    )
    ids = queue_tasks(
        project, count, files, media.duration(files["voice.mp3"]), _render_spec(sizes)
    )
    return project, ids


def calibrate(work: Path, sizes: dict) -> dict:
    """One task through the serial node on an unthrottled link: its render time, the bytes
    a node moves for it and the transfer time that no bandwidth limit causes (HTTP requests,
    hashing, the coordinator's check of the upload). The link is then limited so that
    download + upload come to IO_SHARE of the render."""
    res = one_run(work, sizes | {"tasks": 1}, "serial", "calibrate", 0)
    render, fixed = res["render"], res["download"] + res["upload"]
    budget = IO_SHARE * render - fixed
    rate = res["moved"] / budget if budget > 0 else 0.0
    return {"render": render, "fixed_io": fixed, "bytes": res["moved"], "rate": rate}


def one_run(work: Path, sizes: dict, variant: str, index: int | str, rate: float) -> dict:
    root = work / f"{variant}{index}"
    project, ids = _queue(root, work, sizes, sizes["tasks"])
    logs = work / "logs" / f"{variant}{index}"
    main, url = farm.start_main(root, logs)
    port = int(url.rsplit(":", 1)[1])
    node_work = work / f"node-{variant}{index}"
    shutil.rmtree(node_work, ignore_errors=True)
    procs = [main]
    try:
        with ThrottledProxy("127.0.0.1", port, rate) as proxy:
            if variant == "serial":
                argv = [
                    sys.executable,
                    str(HERE / "serial_node.py"),
                    "--server",
                    proxy.url,
                    "--token",
                    project.token,
                    "--work-dir",
                    str(node_work),
                    "--encoder",
                    ENCODER,
                ]
                node = farm.spawn("serial node", argv, logs / "node.log")
            else:
                node = farm.start_node(
                    proxy.url,
                    project.token,
                    "node",
                    logs,
                    "--copy-inputs",
                    "--work-dir",
                    str(node_work),
                    "--encoder",
                    ENCODER,
                )
            procs.append(node)
            with TreeRssSampler(node.pid) as tree:
                farm.wait_drained(project.layout, len(ids), [main], timeout=1800)
                farm.wait_events(project.layout, Event.UPLOADED, len(ids), timeout=60)
            node.sample()
            moved = proxy.bytes_down + proxy.bytes_up
            node.stop()  # while the link is still up, so nothing it says is cut off
    finally:
        for proc in reversed(procs):
            proc.stop()
    return _figures(project.layout, len(ids)) | {
        "node_rss": max(node.peak_rss, tree.root_peak),
        "main_rss": main.peak_rss,
        "node_tree_rss": tree.peak,
        "moved": moved,
    }


def _figures(layout: Layout, total: int) -> dict:
    events = list(read_events(layout.events_file))

    def of(kind: Event) -> list[dict]:
        return [e for e in events if e.get("event") == kind]

    start = min(e["ts"] for e in of(Event.CLAIMED))
    end = max(e["ts"] for e in of(Event.COMPLETED))
    span = end - start
    render = sum(float(e["seconds"]) for e in of(Event.RENDERED))
    download = sum(float(e["seconds"]) for e in of(Event.DOWNLOADED))
    upload = sum(float(e["seconds"]) for e in of(Event.UPLOADED))
    done = len(layout.task_ids(TaskState.DONE))
    return {
        "span": span,
        "render": render,
        "download": download,
        "upload": upload,
        "done": done,
        "failed": total - done,
        "utilization": render / span if span > 0 else float("nan"),
        "throughput_per_hour": done / span * 3600 if span > 0 else float("nan"),
    }


def _rate(rate: float) -> str:
    if rate > 0:
        return f"limited to {rate / 1e6:.2f} MB/s each way"
    return f"not limited: the fixed transfer cost alone is over {IO_SHARE:.0%} of a render"


def run(work: Path, *, smoke: bool, runs: int, log) -> Section:
    sizes = SMOKE if smoke else FULL
    section = Section("2. Node pipeline")
    cal = calibrate(work, sizes)
    log(
        f"node: one render takes {cal['render']:.1f} s, fixed transfer cost {cal['fixed_io']:.2f} s; "
        f"link {_rate(cal['rate'])}"
    )
    results: dict[str, list[dict]] = {"serial": [], "overlapped": []}
    for index in range(runs):
        for variant in results:
            res = one_run(work, sizes, variant, index, cal["rate"])
            log(
                f"node run {index + 1}/{runs} {variant}: {res['done']} tasks in {res['span']:.1f} s, "
                f"render utilization {res['utilization']:.0%}"
            )
            results[variant].append(res)

    def med(variant: str, key: str) -> float:
        return median([r[key] for r in results[variant]])

    ratio = med("serial", "span") / med("overlapped", "span")
    io_share = (med("serial", "download") + med("serial", "upload")) / med("serial", "render")
    ideal = 1 + io_share
    section.figures = {v: {k: med(v, k) for k in results[v][0]} for v in results}
    section.figures.update(
        {"throughput_ratio": ratio, "calibration": cal, "io_share_serial": io_share}
    )
    tasks = sizes["tasks"]
    section.add(
        f"{tasks} queued tasks ({sizes['render']['resolution']} {sizes['render']['preset']}, "
        f"{sizes['voice']:g} s narration, two clips), one node, inputs served by the coordinator "
        f"(`--copy-inputs`) through a TCP proxy ({_rate(cal['rate'])}). "
        f"Calibration (one task, serial node, no limit): render {cal['render']:.2f} s, transfers "
        f"{cal['fixed_io']:.2f} s without any bandwidth limit (requests, sha256, the upload check), "
        f"{cal['bytes'] / 1e6:.1f} MB moved; the limit is set so that download + upload ≈ "
        f"{IO_SHARE:.0%} of a render. Span = first claim to last completed upload (event log).",
        "",
    )
    rows = []
    for variant in results:
        rows.append(
            [
                variant,
                f"{med(variant, 'span'):.1f} s",
                f"{med(variant, 'throughput_per_hour'):.0f}",
                f"{med(variant, 'utilization'):.1%}",
                f"{med(variant, 'render') / tasks:.2f} s",
                f"{med(variant, 'download') / tasks:.2f} s",
                f"{med(variant, 'upload') / tasks:.2f} s",
                mib(max(r["node_rss"] for r in results[variant])),
                str(sum(r["failed"] for r in results[variant])),
            ]
        )
        section.memory.append(
            (
                f"render node ({variant})",
                f"{tasks} tasks, throttled link",
                max(r["node_rss"] for r in results[variant]),
            )
        )
    section.memory.append(
        (
            "main worker",
            "node pipeline runs",
            max(r["main_rss"] for rs in results.values() for r in rs),
        )
    )
    section.table(
        [
            "node",
            "span",
            "tasks/hour",
            "render_utilization",
            "render / task",
            "download / task",
            "upload / task",
            "node peak RSS",
            "failed",
        ],
        rows,
    )
    over = results["overlapped"]
    r_serial = med("serial", "render") / tasks
    down, up = med("serial", "download") / tasks, med("serial", "upload") / tasks
    render_over = med("overlapped", "render") / tasks
    # A three-stage pipeline over a finite queue: serial = N·(d + r + u); perfect overlap =
    # d + r + u + (N − 1)·max(d, r, u), since the first download and last upload overlap nothing.
    piped = down + r_serial + up + (tasks - 1) * max(down, r_serial, up)
    ideal_n = tasks * (down + r_serial + up) / piped
    util_n = tasks * r_serial / piped
    section.figures.update(
        {"ideal_ratio_for_queue": ideal_n, "ideal_utilization_for_queue": util_n}
    )
    section.add(
        f"Throughput ratio overlapped / serial: **{ratio:.3f}**. Ideal for an endless queue: "
        f"{ideal:.2f} (1 + the serial runs' I/O share {io_share:.0%}); ideal for this queue of "
        f"{tasks}, where the first download and the last upload overlap nothing: ≈ {ideal_n:.3f} "
        f"(render_utilization {util_n:.1%}). Node peak RSS is the node process alone (VmHWM); "
        "with its ffmpeg child it is in the memory table (benchmark 5).",
        "",
    )
    section.memory.append(
        (
            "render node tree (node + ffmpeg)",
            f"{tasks} tasks, overlapped",
            int(max(r["node_tree_rss"] for r in over)),
        )
    )
    slower = render_over > r_serial * 1.03
    contention = (
        f"overlapped renders took {render_over:.2f} s per task against {r_serial:.2f} s serial: "
        f"downloads and uploads share the {os.cpu_count()} cores with ffmpeg (the node re-reads each "
        "downloaded file and its render to hash them, the coordinator ffprobes each upload). "
        if slower
        else f"renders took as long overlapped as serial ({render_over:.2f} s vs {r_serial:.2f} s per task), "
        "so the loss is in the hand-offs between stages. "
    )
    section.target(
        "render_utilization, overlapped",
        med("overlapped", "utilization") * 100,
        95,
        above=True,
        fmt="{:.1f} %",
        goal_text="≥ 95 %",
        why=f"the best this queue allows is {util_n:.1%}; "
        + contention
        + f"Transfers cost {cal['fixed_io']:.2f} s per task even without a bandwidth limit. "
        "Hashing while receiving instead of re-reading files afterwards, and a longer queue, "
        "would close most of it.",
    )
    section.target(
        "throughput overlapped / serial",
        ratio,
        1.25,
        above=True,
        fmt="{:.3f}",
        goal_text="≥ 1.25",
        why=f"the best this queue of {tasks} allows is {ideal_n:.3f} (endless queue: {ideal:.2f}); "
        + contention,
    )
    if any(r["failed"] for r in over):
        section.unmeasured(
            "every task completed", str(tasks), "some tasks failed; see the node logs"
        )
    return section
