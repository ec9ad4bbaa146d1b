"""One clip's filter chain: its frames at the output's size and rate, filled by a fill mode.

- `fit`: the whole clip, scaled to fit, between black bars;
- `crop`: scaled to cover the frame, the middle kept;
- `blur`: the fitted clip over a blurred, darkened, zoomed copy of itself. The copy is
  made from the fitted picture at a quarter of the output size (cheap to scale and blur,
  and a blurred picture has no detail to lose), then scaled up behind it. A clip of the
  output's own shape needs no background: it gets the crop chain, which fills exactly.

Pure: builds filter text, touches no files.
"""

from __future__ import annotations

from dataclasses import dataclass

from storyreel.render.encoders import EncoderSetup
from storyreel.taskmeta import RenderSpec

# The blurred background is built at the output size divided by this, then scaled up.
BLUR_SCALE_DOWN = 4
# Box blur radius as a share of the small background's shorter side, two passes: strong
# enough that the copy reads as colour and light, not as a second picture.
BLUR_RADIUS_SHARE = 1 / 12
BLUR_POWER = 2
# The background is darkened by this much (eq brightness, -1..1) so the clip stands out.
BLUR_DARKEN = -0.15
# Shapes closer than this (relative aspect ratio) count as the output's own shape.
SAME_SHAPE_TOLERANCE = 0.01


@dataclass(frozen=True)
class ClipShape:
    """What the graph knows of one clip before decoding it (None: not known)."""

    width: int | None = None  # as shown (rotation and pixel aspect applied)
    height: int | None = None
    seconds: float | None = None

    def same_shape(self, width: int, height: int) -> bool:
        if not self.width or not self.height:
            return False
        return abs(self.width * height / (self.height * width) - 1) <= SAME_SHAPE_TOLERANCE


def clip_chain(index: int, spec: RenderSpec, enc: EncoderSetup, shape: ClipShape | None = None) -> str:
    """The filters that turn clip input `index` into frames `[c<index>]` of the output
    size and rate, filled the way `spec.fill` says."""
    width, height = spec.size
    mode = spec.fill
    if mode == "blur" and shape is not None and shape.same_shape(width, height):
        mode = "crop"  # fills the frame already: no background to draw
    steps = ["setpts=PTS-STARTPTS", f"fps={spec.frame_rate}", *_scaled(spec, enc, mode)]
    label = f"c{index}"
    if mode == "fit":
        steps.append(f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black")
    elif mode == "crop":
        steps.append(f"crop={width}:{height}")
    else:
        head = f"[{index}:v]" + ",".join(steps) + f",split[fit{index}][copy{index}]"
        background = f"[copy{index}]{_blurred(spec)}[blur{index}]"
        over = (f"[blur{index}][fit{index}]overlay=(W-w)/2:(H-h)/2,setsar=1,format=yuv420p[{label}]")
        return ";".join([head, background, over])
    steps += ["setsar=1", "format=yuv420p"]
    return f"[{index}:v]" + ",".join(steps) + f"[{label}]"


def _scaled(spec: RenderSpec, enc: EncoderSetup, mode: str) -> list[str]:
    """Scale to fit (fit, blur) or to cover (crop), on the GPU when the clip was decoded there."""
    width, height = spec.size
    aspect = "increase" if mode == "crop" else "decrease"
    size = f"{width}:{height}:force_original_aspect_ratio={aspect}:force_divisible_by=2"
    if enc.gpu_scale:
        # Only scaling runs on the GPU: pad, crop, blur and overlay are CPU filters (ffmpeg 5
        # has no CUDA crop or blur), so the scaled picture is downloaded before them.
        return [f"scale_cuda={size}", "hwdownload", "format=nv12"]
    # Square pixels first, so a clip with a non-square SAR keeps its shape when scaled.
    return ["scale=trunc(iw*sar/2)*2:ih", "setsar=1", f"scale={size}:flags={spec.scale_flags}"]


def _blurred(spec: RenderSpec) -> str:
    """The background: the fitted clip zoomed to cover a small frame, blurred, darkened,
    then scaled up to the output size."""
    width, height = spec.size
    small_w = max(2, width // BLUR_SCALE_DOWN // 2 * 2)
    small_h = max(2, height // BLUR_SCALE_DOWN // 2 * 2)
    # boxblur's radius may not exceed half of the smallest plane (chroma is half size).
    radius = max(1, min(round(min(small_w, small_h) * BLUR_RADIUS_SHARE), min(small_w, small_h) // 4))
    flags = spec.scale_flags
    return ",".join([
        f"scale={small_w}:{small_h}:force_original_aspect_ratio=increase:flags={flags}",
        f"crop={small_w}:{small_h}",
        f"boxblur={radius}:{BLUR_POWER}",
        f"eq=brightness={BLUR_DARKEN}",
        f"scale={width}:{height}:flags={flags}",
        "setsar=1",
    ])
