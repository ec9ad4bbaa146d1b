"""The picture of a render, as filter graph text: clips filled and joined, then the layers.

    base    each clip filled (fill.py), joined by cuts (concat) or cross-fades (xfade);
            the last frame is held in case the clips end a little before the voice
    frame   a looping frame clip over the picture, blended by `screen` or colour-keyed
    title   the story's title over the first seconds, fading out (drawtext)
    logo    the logo image
    captions, then trimmed to the voice → `[vout]`

With fades every clip is cut (or held) to a known length, so each cross-fade starts at a
known time; the planner picks clips for the voice plus the overlaps. Pure: no files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from storyreel.media.burnin import filter_value
from storyreel.render.encoders import EncoderSetup
from storyreel.render.fill import ClipShape, clip_chain
from storyreel.taskmeta import RenderSpec
from storyreel.units import seconds_text

# A colour-keyed frame clip: how close to the key a pixel must be to vanish, and how
# softly the edge between kept and keyed pixels blends (colorkey's similarity, blend).
KEY_SIMILARITY = 0.3
KEY_BLEND = 0.1
# The title card's text height as a share of the frame's shorter side, its widest line as
# a share of the frame's width, and the share of its time spent fading out.
TITLE_SIZE_SHARE = 0.09
TITLE_WIDTH_SHARE = 0.9
TITLE_FADE_SHARE = 0.3
# An average glyph of a bold sans face is about this wide, as a share of its height.
GLYPH_WIDTH_SHARE = 0.6


@dataclass(frozen=True)
class PictureInputs:
    """What the picture needs besides the clips' paths; the defaults draw just the clips."""

    shapes: list[ClipShape] = field(default_factory=list)  # per clip in play order; [] unknown
    frame: Path | None = None  # the frame clip, an input after the logo
    title: str = ""  # drawn when `title_seconds` > 0
    font: Path | None = None  # the title's font file; None lets fontconfig choose


def video_graph(
    count: int, spec: RenderSpec, enc: EncoderSetup, picture: PictureInputs, *,
    logo: int | None, frame: int | None, captions: str, duration: str,
) -> list[str]:
    """The picture of `count` clips (inputs 0..count-1); `logo` and `frame` are input
    indexes (None: none); ends in `[vout]`."""
    shapes = picture.shapes if len(picture.shapes) == count else [ClipShape()] * count
    parts = [clip_chain(i, spec, enc, shapes[i]) for i in range(count)]
    parts += _joined(count, spec, shapes)
    layered, video = layers("[base]", spec, picture, logo=logo, frame=frame, captions=captions)
    parts += layered
    parts.append(f"{video}trim=duration={duration},{enc.pix_fmt_filter}[vout]")
    return parts


def layers(
    video: str, spec: RenderSpec, picture: PictureInputs, *, logo: int | None, frame: int | None,
    captions: str, shift: float = 0.0,
) -> tuple[list[str], str]:
    """The frame clip, title card, logo and captions drawn over `video` (a label); the
    filters and the label they end in. `shift`: the time (s) of `video`'s first frame in
    the whole picture, so a part of it gets the title and captions of its own stretch."""
    parts: list[str] = []
    if frame is not None:
        parts += _frame_layer(frame, spec, video)
        video = "[framed]"
    timed = (spec.title_seconds > shift and bool(picture.title)) or bool(captions)
    if shift and timed:
        parts.append(f"{video}setpts=PTS+{seconds_text(shift)}/TB[shifted]")
        video = "[shifted]"
    if spec.title_seconds > shift and picture.title:
        parts.append(f"{video}{title_card(picture.title, picture.font, spec)}[titled]")
        video = "[titled]"
    if logo is not None:
        scale = f",scale={spec.logo_width}:-2" if spec.logo_width else ""
        parts.append(f"[{logo}:v]format=rgba{scale}[logo]")
        parts.append(f"{video}[logo]overlay={spec.logo_x}:{spec.logo_y}:eof_action=repeat[withlogo]")
        video = "[withlogo]"
    if captions:
        # Captions are drawn over the logo, in the same graph: the video is encoded once.
        parts.append(f"{video}{captions}[captioned]")
        video = "[captioned]"
    return parts, video


def fade_lengths(shapes: list[ClipShape], seconds: float) -> list[float] | None:
    """The length of each cross-fade (between clip k-1 and k, for k ≥ 1), at most half of
    either clip so fades never overlap; None when a clip's length is unknown."""
    lengths = [s.seconds or 0.0 for s in shapes]
    if not all(lengths):
        return None
    return [min(seconds, lengths[k - 1] / 2, lengths[k] / 2) for k in range(1, len(lengths))]


def _joined(count: int, spec: RenderSpec, shapes: list[ClipShape]) -> list[str]:
    """`[c0]…[cN]` joined into `[base]`, which holds its last frame for ever (trimmed later)."""
    fades = fade_lengths(shapes, spec.transition_seconds) if spec.transition == "fade" else None
    if count < 2 or fades is None:
        return joined(count, None, None)
    return joined(count, [s.seconds or 0.0 for s in shapes], fades)


def joined(count: int, lengths: list[float] | None, fades: list[float] | None) -> list[str]:
    """`[c0]…[cN]` joined by cuts (`fades` None) or by cross-fades (fade k between clips
    k-1 and k, each clip held or cut to `lengths`) into `[base]`, which holds its last
    frame for ever (trimmed later)."""
    hold = "tpad=stop_mode=clone:stop=-1[base]"
    if count < 2 or fades is None or lengths is None:
        labels = "".join(f"[c{i}]" for i in range(count))
        return [f"{labels}concat=n={count}:v=1:a=0,{hold}"]
    # Each clip lasts exactly its known length: held if it ends early, cut if it runs on.
    parts = []
    for i, length in enumerate(lengths):
        text = seconds_text(length)
        parts.append(f"[c{i}]tpad=stop_mode=clone:stop_duration={text},trim=duration={text}[s{i}]")
    previous, end = "[s0]", lengths[0]
    for k, fade in enumerate(fades, start=1):
        offset = end - fade
        label = f"[x{k}]"
        parts.append(f"{previous}[s{k}]xfade=transition=fade:duration={seconds_text(fade)}:"
                     f"offset={seconds_text(offset)}{label}")
        previous, end = label, offset + lengths[k]
    parts.append(f"{previous}{hold}")
    return parts


def _frame_layer(frame: int, spec: RenderSpec, video: str = "[base]") -> list[str]:
    """`video` with the frame clip over it → `[framed]`. The frame clip is decoded on the
    CPU (it is not one of the GPU-decoded clips) and stretched to the output size: a border
    drawn for the frame stays at its edges."""
    width, height = spec.size
    chain = (f"[{frame}:v]setpts=PTS-STARTPTS,fps={spec.frame_rate},"
             f"scale={width}:{height}:flags={spec.scale_flags},setsar=1")
    if spec.frame_key_color:
        key = spec.frame_key_color.replace("#", "0x")
        return [f"{chain},colorkey={key}:{KEY_SIMILARITY}:{KEY_BLEND}[frame]",
                f"{video}[frame]overlay=0:0[framed]"]
    # Screen blending is defined on RGB: both layers are blended as planar RGB.
    return [f"{chain},format=gbrp[frame]", f"{video}format=gbrp[basergb]",
            "[basergb][frame]blend=all_mode=screen,format=yuv420p[framed]"]


def title_card(title: str, font: Path | None, spec: RenderSpec) -> str:
    """A drawtext filter showing `title` centred for `title_seconds`, fading out at the end."""
    width, height = spec.size
    shown = spec.title_seconds
    fade = shown * TITLE_FADE_SHARE
    size = text_size(title, width, min(width, height) * TITLE_SIZE_SHARE)
    alpha = f"if(lt(t,{seconds_text(shown - fade)}),1,max(0,({seconds_text(shown)}-t)/{seconds_text(fade)}))"
    return drawtext(title, font, size, x="(w-text_w)/2", y="(h-text_h)/2",
                    extra=[f"alpha={filter_value(alpha)}", f"enable={filter_value(f'lt(t,{seconds_text(shown)})')}"])


def text_size(text: str, width: int, largest: float) -> int:
    """A font size for one line of `text`: `largest`, smaller when the line would not fit
    in TITLE_WIDTH_SHARE of `width` (drawtext does not wrap)."""
    fits = width * TITLE_WIDTH_SHARE / (max(1, len(text)) * GLYPH_WIDTH_SHARE)
    return max(8, int(min(largest, fits)))


def drawtext(text: str, font: Path | None, size: int, *, x: str, y: str, extra: list[str] | None = None) -> str:
    """drawtext of `text` taken literally (no % expansion), white with a dark outline."""
    face = f"fontfile={filter_value(str(font))}" if font is not None else "font=Sans"
    border = max(1, size // 16)
    options = [face, f"text={filter_value(text)}", "expansion=none", f"fontsize={size}",
               "fontcolor=white", f"borderw={border}", "bordercolor=black@0.7",
               f"x={filter_value(x)}", f"y={filter_value(y)}", *(extra or [])]
    return "drawtext=" + ":".join(options)


