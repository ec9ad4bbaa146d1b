"""The README's profile pictures: one frame of each output `make demo` rendered, saved as
docs/profile-<profile>.jpg (run after `make demo`: `.venv/bin/python scripts/profile_frames.py`).

Every picture is the same moment of the chapter, so the master and the short compare side
by side; small JPEGs, so the README stays light.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from storyreel.layout import METADATA_NAME, Layout, TaskState  # noqa: E402
from storyreel.media.run import run  # noqa: E402
from storyreel.media.tools import ffmpeg, media_arg  # noqa: E402

ROOT = REPO / "demo" / "root"
DOCS = REPO / "docs"
AT_SECONDS = 3.0  # a clip with colour and a caption on screen in the demo's chapter
LONG_SIDE = 640  # pixels: enough to read the captions, a few tens of KB
JPEG_QUALITY = 4  # ffmpeg's -q:v, 2 (best) … 31


def grab(video: Path, picture: Path) -> None:
    fit = f"scale='if(gt(iw,ih),{LONG_SIDE},-2)':'if(gt(iw,ih),-2,{LONG_SIDE})'"
    run([ffmpeg(), "-v", "error", "-y", "-nostdin", "-ss", f"{AT_SECONDS}", "-i", media_arg(video),
         "-frames:v", "1", "-vf", fit, "-q:v", str(JPEG_QUALITY), media_arg(picture)],
        verb="grab a frame of", path=video)


def main() -> int:
    layout = Layout(ROOT)
    finished = layout.task_ids(TaskState.DONE)
    if not finished:
        print(f"no outputs under {layout.output}: run `make demo` first", file=sys.stderr)
        return 1
    for task_id in finished:
        final = layout.output_file(task_id)
        profile = json.loads((final.parent / METADATA_NAME).read_text(encoding="utf-8")).get("profile", "main")
        picture = DOCS / f"profile-{profile}.jpg"
        grab(final, picture)
        print(f"{picture.relative_to(REPO)}  {picture.stat().st_size // 1024} KB  from {final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
