"""The render settings checked against this machine before a command starts work: the
encoder is one this ffmpeg has (or auto), the preset one its encoder takes, and the logo
an image that exists. A bad value stops the start with one message (BadSetting), instead
of a task that fails, or waits, at render time."""

from __future__ import annotations

from pathlib import Path

from storyreel.config import RenderSettings, Settings, profile_section
from storyreel.errors import BadSetting, MediaError
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.media import probe
from storyreel.media.tools import encoder_names
from storyreel.render.encoders import AUTO, ENCODER_ORDER, presets_for

log = get_logger(MAIN_WORKER)  # the main worker plans with what this check settles

# ffprobe's format names for a still picture: png_pipe, jpeg_pipe, webp_pipe …, a numbered
# image sequence, or a GIF.
_STILL_SUFFIX = "_pipe"
_STILL_FORMATS = frozenset({"image2", "gif"})


def check_settings(settings: Settings, config_file: Path, root: Path, *, encoder: str | None = None) -> None:
    """check_render for [render] and every profile's render section, each replaced by the
    settings to plan with. A profile that keeps [render]'s encoder, preset and logo takes
    [render]'s outcome (checked and warned about once)."""
    written = settings.render
    settings.render = check_render(written, config_file, root, encoder=encoder)
    for name, profile in settings.profiles.items():
        if _machine_part(profile.render) == _machine_part(written):
            profile.render = profile.render.model_copy(update={"encoder": settings.render.encoder})
        else:
            profile.render = check_render(profile.render, config_file, root, encoder=encoder,
                                          section=f"[{profile_section(name, 'render')}]")


def _machine_part(render: RenderSettings) -> tuple[str, str, str]:
    """The render settings check_render weighs against this machine."""
    return render.encoder, render.preset, render.logo


def check_render(render: RenderSettings, config_file: Path, root: Path, *,
                 encoder: str | None = None, section: str = "[render]") -> RenderSettings:
    """BadSetting for the first render setting this machine cannot use; else the render
    settings to plan with. `encoder` (run's --encoder) is checked instead of the file's,
    which it overrides: a file encoder this ffmpeg lacks is replaced by it for this run,
    so the run's tasks never wait for an encoder no node has. `section`: where the file
    writes these settings (a profile's are `[profiles.<name>.render]`)."""
    where = f"bad setting in {config_file}"
    if encoder:
        chosen = _check_encoder(encoder, "bad option", "--encoder")
    else:
        chosen = _check_encoder(render.encoder, where, f"{section} encoder")
    if render.preset not in presets_for(chosen):
        raise BadSetting(where, f"{section} preset", render.preset,
                         f"expected one of {', '.join(presets_for(chosen))}")
    if render.logo:
        _check_logo(render.logo, where, root, f"{section} logo")
    if encoder and encoder != render.encoder:
        try:
            _check_encoder(render.encoder, where, f"{section} encoder")
        except BadSetting as bad:
            log.warning("%s; this run's tasks use --encoder %s", bad, encoder)
            return render.model_copy(update={"encoder": encoder})
    return render


def _check_encoder(name: str, where: str, setting: str) -> str:
    if name == AUTO:
        return name
    built_in = encoder_names()
    known = [e for e in ENCODER_ORDER if e in built_in]
    if name not in known:
        raise BadSetting(where, setting, name,
                         f"expected {AUTO} or one of {', '.join(known)} (the H.264 encoders this ffmpeg has)")
    return name


def _check_logo(setting: str, where: str, root: Path, name: str) -> None:
    path = Path(setting) if Path(setting).is_absolute() else root / setting
    if not path.is_file():
        raise BadSetting(where, name, setting,
                         f"{path} does not exist: expected an image file (PNG, JPEG …), "
                         "relative to the project root, or \"\" for none")
    try:
        info = probe.probe(path)
    except MediaError as exc:
        raise BadSetting(where, name, setting, f"{path} is not an image ({exc.reason})") from exc
    fmt, picture = info.format_name, info.first_video
    if picture is None or not (fmt.endswith(_STILL_SUFFIX) or fmt in _STILL_FORMATS):
        raise BadSetting(where, name, setting, f"{path} is not an image (ffprobe reads it as {fmt})")
    if not picture.width or not picture.height:  # a damaged file named .png: no picture size
        raise BadSetting(where, name, setting, f"{path} is not an image (no picture size)")
