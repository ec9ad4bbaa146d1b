"""A render of many clips in parts: a few clips at a time filled and joined in an encode of
their own, the parts joined by the concat demuxer, the sound mixed once over the whole.

One ffmpeg with every clip as an input holds a decoder and filter buffers per clip, all
at once (about 50 MiB a clip at 720p): a render of many clips is instead cut into
segments of at most GROUP_CLIPS clips, encoded two at a time, so its memory no longer
grows with the clip count. Each segment is cut to the exact frames it contributes: its
first frame is the one its first clip starts at in the one-pass picture (with cuts, each
clip before it adds its length in frames, rounded to the nearest; with fades, its fade's
time, rounded), so each clip keeps its length within half a frame, every segment starts
where the one before ends, and the parts total exactly the voice's frames.

- cuts: a segment is the concat of its clips, as in the one-pass graph;
- fades: a segment begins with the cross-fade into its first clip, so it also reads the
  end of the clip before (seeked to where that fade starts);
- the title card and captions are drawn on each segment with its time shifted to its
  place in the whole, and the logo over every segment: the segments are then encoded
  with the render's own encoder and joined by stream copy (`final_argv`, the sound alone
  is encoded);
- a frame clip loops under the whole picture: then the segments are encoded at high
  quality (INTERMEDIATE_ARGS) and a last pass draws the frame clip, the title, the logo
  and the captions over the joined picture and encodes it (`layered`).

Pure: builds argv lists and graph text, touches no files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from storyreel.render.audio import AUDIO_RATE, audio_graph
from storyreel.render.encoders import EncoderSetup
from storyreel.render.fill import ClipShape, clip_chain
from storyreel.render.graph import RenderInputs
from storyreel.render.picture import fade_lengths, joined, layers
from storyreel.taskmeta import RenderSpec
from storyreel.units import seconds_text

# Up to this many clips a render runs as one ffmpeg: measured faster there, and its
# memory is still that of a few clips (BENCHMARKS.md, "Memory and clip count").
ONE_PASS_CLIPS = 6
# Clips per segment: a segment's memory grows with its clips, its start-up cost does not.
GROUP_CLIPS = 3
# A segment is closed once it lasts this long (s), even with fewer clips: long clips
# gain nothing from sharing a process.
GROUP_SECONDS = 6.0
# The segments of a layered render are encoded again by its last pass: near-lossless and
# fast to make, so the last pass's frames match a one-pass render's.
INTERMEDIATE_ARGS = ["-c:v", "libx264", "-preset", "superfast", "-crf", "12"]
INTERMEDIATE_PIX_FMT = "format=yuv420p"
# A segment shorter than this joins the one before: an encoder's first frames are held
# back for reordering (B-frames), and the joined stream's timing stays even only when every
# part is held back alike, which a part of a frame or two is not.
MIN_SEGMENT_FRAMES = 16
# A float frame count this close to a whole number is that number.
FRAME_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Segment:
    """Consecutive clips of the play order, rendered by one encode."""

    clips: list[int]  # indexes into the render's clips (play order)
    start: int  # its first frame in the whole picture
    frames: int  # how many frames it contributes
    lead: int | None = None  # with fades: the clip before, whose end fades into clips[0]
    lead_from: float = 0.0  # where that fade starts in the lead clip (s)
    lengths: list[float] | None = None  # with fades: each joined part's length, lead first
    fades: list[float] | None = None  # with fades: each fade into parts 1.. (s)

    @property
    def inputs(self) -> list[int]:
        """The clips it reads, in input order."""
        return ([self.lead] if self.lead is not None else []) + self.clips


def frame_count(seconds: float, rate: int) -> int:
    """The frames a picture of `seconds` has at `rate`: those starting before its end."""
    exact = seconds * rate
    whole = round(exact)
    return whole if abs(exact - whole) < FRAME_TOLERANCE else math.ceil(exact)


def layered(inputs: RenderInputs) -> bool:
    """True when a last pass must draw over the joined picture (a frame clip loops under it)."""
    return inputs.picture.frame is not None


def plan(inputs: RenderInputs, spec: RenderSpec) -> list[Segment] | None:
    """The segments of a render, or None when it runs as one pass (few clips, or a clip
    whose length is not known)."""
    count = len(inputs.videos)
    shapes = inputs.picture.shapes
    if count <= ONE_PASS_CLIPS or len(shapes) != count or not all(s.seconds for s in shapes):
        return None
    lengths = [s.seconds or 0.0 for s in shapes]
    fades = fade_lengths(shapes, spec.transition_seconds) if spec.transition == "fade" else None
    total = frame_count(inputs.duration, spec.frame_rate)
    bounds = clip_starts(lengths, fades, spec.frame_rate)
    used = [k for k in range(count) if bounds[k] < total] or [0]
    spans: list[tuple[list[int], int, int]] = []  # clips, first frame, frames
    for group in _groups(used, lengths):
        after = group[-1] + 1
        end = bounds[after] if after < count and after in used else total
        frames = end - bounds[group[0]]
        if spans and frames < MIN_SEGMENT_FRAMES:
            clips, start, before = spans.pop()
            group, frames = clips + group, before + frames
        spans.append((group, bounds[group[0]], frames))
    return [make_segment(group, start, frames, lengths, fades) for group, start, frames in spans if frames > 0]


def clip_starts(lengths: list[float], fades: list[float] | None, rate: int) -> list[int]:
    """The frame each clip starts at in the whole picture, as the one-pass graph places it:
    with cuts each clip adds the frames its rate conversion makes of it (its length in
    frames, rounded to the nearest); with fades each starts at its fade's time, rounded."""
    bounds = [0]
    if fades is None:
        for length in lengths[:-1]:
            bounds.append(bounds[-1] + math.floor(length * rate + 0.5))
        return bounds
    start = 0.0
    for k in range(1, len(lengths)):
        start += lengths[k - 1] - fades[k - 1]
        bounds.append(math.floor(start * rate + 0.5))
    return bounds


def _groups(used: list[int], lengths: list[float]) -> list[list[int]]:
    groups: list[list[int]] = [[]]
    for k in used:
        if len(groups[-1]) >= GROUP_CLIPS or sum(lengths[i] for i in groups[-1]) >= GROUP_SECONDS:
            groups.append([])
        groups[-1].append(k)
    return groups


def make_segment(group: list[int], start: int, frames: int, lengths: list[float],
             fades: list[float] | None) -> Segment:
    if fades is None:
        return Segment(group, start, frames)
    first = group[0]
    parts = [lengths[k] for k in group]
    between = [fades[k - 1] for k in group[1:]]
    if first == 0:
        return Segment(group, start, frames, lengths=parts, fades=between)
    fade_in = fades[first - 1]
    return Segment(group, start, frames, lead=first - 1, lead_from=lengths[first - 1] - fade_in,
                   lengths=[fade_in, *parts], fades=[fade_in, *between])


def segment_graph(segment: Segment, inputs: RenderInputs, spec: RenderSpec, enc: EncoderSetup) -> str:
    """The filter graph of one segment: its clips (inputs 0..), then the logo when it is
    drawn here; ends in `[vout]`, cut to the segment's frames."""
    shapes = inputs.picture.shapes
    reads = segment.inputs
    parts = [clip_chain(i, spec, enc, shapes[k] if shapes else ClipShape()) for i, k in enumerate(reads)]
    parts += joined(len(reads), segment.lengths, segment.fades)
    video, pix_fmt = "[base]", INTERMEDIATE_PIX_FMT
    if not layered(inputs):
        logo = len(reads) if inputs.logo is not None else None
        shift = segment.start / spec.frame_rate
        drawn, video = layers(video, spec, inputs.picture, logo=logo, frame=None,
                              captions=inputs.captions, shift=shift)
        parts += drawn
        pix_fmt = enc.pix_fmt_filter
    parts.append(f"{video}trim=end_frame={segment.frames},setpts=PTS-STARTPTS,{pix_fmt}[vout]")
    return ";".join(parts)


def segment_argv(segment: Segment, inputs: RenderInputs, enc: EncoderSetup, graph: Path,
                 output: Path, *, ffmpeg: str = "ffmpeg", threads: int = 0) -> list[str]:
    """The encode of one segment into `output` (mp4, video only); its graph is in `graph`.
    `threads`: how many threads each clip's decoder and the encoder may run (its share of
    the cores when several segments encode at once; 0: ffmpeg's own choice, one per core)."""
    share = ["-threads", str(threads)] if threads > 0 else []
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-xerror", *enc.global_args]
    for k in segment.inputs:
        seek = ["-ss", seconds_text(segment.lead_from)] if k == segment.lead else []
        argv += [*enc.clip_input_args, *share, *seek, "-i", _arg(inputs.videos[k])]
    if inputs.logo is not None and not layered(inputs):
        argv += ["-i", _arg(inputs.logo)]
    argv += ["-filter_complex_script", str(graph), "-map", "[vout]", "-an"]
    argv += INTERMEDIATE_ARGS if layered(inputs) else enc.output_args
    return argv + [*share, "-f", "mp4", "-progress", "pipe:1", "-nostats", _arg(output)]


def concat_list(files: list[Path], frames: list[int], rate: int) -> str:
    """The concat demuxer's list of segment files by absolute path (read with `-safe 0`),
    each with its exact length: the demuxer then starts each one exactly where the last ends."""
    lines = [f"file '{_quoted(path)}'\nduration {seconds_text(count / rate)}\n"
             for path, count in zip(files, frames, strict=True)]
    return "ffconcat version 1.0\n" + "".join(lines)


def _quoted(path: Path) -> str:
    """A path inside the list's single quotes: each quote closed, escaped and reopened."""
    return str(Path(path).absolute()).replace("'", "'\\''")


def final_graph(inputs: RenderInputs, spec: RenderSpec, enc: EncoderSetup) -> str:
    """The last pass's graph. Inputs: the joined segments, music, voice, then (layered) the
    logo and the frame clip. The sound always; the picture only when layered."""
    parts = audio_graph(inputs, spec, music=1, voice=2)
    if layered(inputs):
        logo = 3 if inputs.logo is not None else None
        frame = 3 + (logo is not None)
        drawn, video = layers("[0:v]", spec, inputs.picture, logo=logo, frame=frame,
                              captions=inputs.captions)
        parts += drawn
        parts.append(f"{video}trim=duration={seconds_text(inputs.duration)},{enc.pix_fmt_filter}[vout]")
    return ";".join(parts)


def final_argv(inputs: RenderInputs, spec: RenderSpec, enc: EncoderSetup, joined_list: Path,
               graph: Path, output: Path, *, ffmpeg: str = "ffmpeg") -> list[str]:
    """The last pass: the segments joined (stream copy unless layered), the sound mixed."""
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-xerror", *enc.global_args,
            "-f", "concat", "-safe", "0", "-i", _arg(joined_list),
            "-stream_loop", "-1", "-i", _arg(inputs.music), "-i", _arg(inputs.voice)]
    if layered(inputs):
        if inputs.logo is not None:
            argv += ["-i", _arg(inputs.logo)]
        argv += ["-stream_loop", "-1", "-i", _arg(inputs.picture.frame)]  # type: ignore[arg-type]
        argv += ["-filter_complex_script", str(graph), "-map", "[vout]", "-map", "[aout]", *enc.output_args]
    else:
        argv += ["-filter_complex_script", str(graph), "-map", "0:v", "-map", "[aout]", "-c:v", "copy"]
    argv += ["-c:a", "aac", "-b:a", spec.audio_bitrate, "-ar", str(AUDIO_RATE), *inputs.sound.tag_args()]
    argv += ["-t", seconds_text(inputs.duration), "-movflags", "+faststart+use_metadata_tags",
             "-f", spec.output_format, "-progress", "pipe:1", "-nostats", _arg(output)]
    return argv


def _arg(path: Path) -> str:
    return f"file:{path}"
