"""What the picture of one task needs besides its clips, read from its folder.

The clips' shapes and lengths come from the scanned names metadata.json records
(`mp4_w<W>_h<H>/<seconds>_<name>.mp4`: no decoding); a clip without one (a task made by
hand, a play order edited after planning) is probed, once per distinct file. They are
read only when the render uses them: the blur fill (a clip of the output's shape needs no
background), fades (each cross-fade starts at a known time) and a render in segments
(each is cut to the frames its clips contribute). A scanned name carries the
size as shown but not a non-square pixel aspect: an anamorphic clip whose stored size has
the output's shape is cropped to fill rather than blurred (probing every clip instead
costs about 0.1 s each).
"""

from __future__ import annotations

from pathlib import Path

from storyreel.errors import MediaError, StoryreelError
from storyreel.layout import Layout
from storyreel.logs import RENDER_WORKER, get_logger
from storyreel.media import fonts
from storyreel.media.probe import probe
from storyreel.render import segments
from storyreel.render.fill import ClipShape
from storyreel.render.picture import PictureInputs
from storyreel.taskmeta import TaskMeta

log = get_logger(RENDER_WORKER)

# The face text is drawn with when the task carries no caption font (fonts-dejavu-core).
FALLBACK_FONT = "DejaVu Sans"


def picture_inputs(task_dir: Path, meta: TaskMeta, names: list[str]) -> PictureInputs:
    """The shapes of the clips `names` (in play order), the frame clip and the title card."""
    spec = meta.render
    # A render of many clips runs in segments, each cut to the frames its clips contribute.
    needs_shapes = (spec.fill == "blur" or (spec.transition == "fade" and len(names) > 1)
                    or len(names) > segments.ONE_PASS_CLIPS)
    title = meta.story_title if spec.title_seconds > 0 else ""
    return PictureInputs(
        shapes=clip_shapes(task_dir, meta, names) if needs_shapes else [],
        frame=task_dir / meta.frame_file if meta.frame_file and spec.frame else None,
        title=title,
        font=task_font(task_dir, meta) if title else None,
    )


def clip_shapes(task_dir: Path, meta: TaskMeta, names: list[str]) -> list[ClipShape]:
    """One ClipShape per name: from the recorded scanned names, else by ffprobe."""
    recorded: dict[str, ClipShape] = {}
    if len(meta.video_sources) == len(meta.video_files):
        for name, source in zip(meta.video_files, meta.video_sources, strict=True):
            size = Layout.size_from_scanned_name(source)
            seconds = Layout.duration_from_scanned_name(Path(source))
            if size and seconds:
                recorded[name] = ClipShape(size[0], size[1], seconds)
    for name in dict.fromkeys(names):
        if name not in recorded:
            recorded[name] = _probed(task_dir / name)
    return [recorded[name] for name in names]


def _probed(path: Path) -> ClipShape:
    try:
        info = probe(path)
    except MediaError as exc:
        log.debug("Cannot read the shape of %s: %s", path.name, exc.reason)
        return ClipShape()  # the render itself says what is wrong with the clip
    video = info.first_video
    if video is None:
        return ClipShape(seconds=info.duration)
    num, _, den = video.sar.partition(":")
    stretch = int(num) / int(den) if num.isdigit() and den.isdigit() and int(num) and int(den) else 1.0
    width, height = round(video.width * stretch), video.height  # square pixels
    if abs(video.rotation) % 180 == 90:
        width, height = height, width
    return ClipShape(width, height, video.duration or info.duration)


def task_font(task_dir: Path, meta: TaskMeta) -> Path | None:
    """The font text is drawn with: the task's caption font when it carries one (every node
    draws the same glyphs), else DejaVu Sans Bold through fontconfig; None when neither is
    there (drawtext then asks fontconfig for any sans face)."""
    if meta.captions is not None:
        for name in meta.captions.font_files:
            if (task_dir / name).is_file():
                return task_dir / name
    try:
        found = fonts.font_file(FALLBACK_FONT, bold=True)
    except StoryreelError as exc:
        log.debug("No font file for the title: %s", exc)
        return None
    return found[1] if found else None
