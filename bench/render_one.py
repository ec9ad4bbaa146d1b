"""Render one task folder with storyreel's renderer and print its wall time as JSON.

Run as a separate process by render_bench so that its CPU and peak RSS (ffmpeg's
included) are measured the same way as the template's. With `--argv` it prints the
ffmpeg command render_task would run instead (to time ffmpeg alone).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from storyreel.media import run as runner
from storyreel.media.tools import ffmpeg
from storyreel.render import encoders, job
from storyreel.render.graph import build_argv
from storyreel.taskmeta import read

ENCODER = "libx264"

# Time spent in programs render_task runs to completion (ffprobe checks), apart from the render.
_probes = {"count": 0, "seconds": 0.0}
_run = runner.run


def _timed_run(*args, **kwargs):
    started = time.perf_counter()
    try:
        return _run(*args, **kwargs)
    finally:
        _probes["count"] += 1
        _probes["seconds"] += time.perf_counter() - started


runner.run = _timed_run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("task", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument(
        "--argv", action="store_true", help="print render_task's ffmpeg argv as JSON"
    )
    args = parser.parse_args()
    task = args.task.absolute()
    if args.argv:
        meta = read(task)
        enc = encoders.setup(ENCODER, meta.render.preset, meta.render.quality)
        argv = build_argv(
            job._inputs(task, meta), meta.render, enc, args.output.absolute(), ffmpeg=ffmpeg()
        )
        print(json.dumps(argv))
        return
    args.output.unlink(missing_ok=True)
    started = time.perf_counter()
    result = job.render_task(task, args.output, encoder=ENCODER)
    wall = time.perf_counter() - started
    print(
        json.dumps(
            {
                "wall": wall,
                "encoder": result.encoder,
                "media_seconds": result.media_seconds,
                "probe_calls": _probes["count"],
                "probe_seconds": _probes["seconds"],
            }
        )
    )


if __name__ == "__main__":
    main()
