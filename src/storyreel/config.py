"""Settings, read once from ROOT/storyreel.toml and passed down.

Every setting has a default and a one-line reason; `storyreel init` writes them
all, commented, so the file documents itself.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from storyreel.captions.settings import CaptionPosition, CaptionSettings, CaptionStyle
from storyreel.errors import ConfigError
from storyreel.logs import LEVELS_TEXT, MAIN_WORKER, get_logger, parse_level
from storyreel.netaddr import ListenText

# An ffmpeg bitrate: digits, an optional fraction and a k or M multiplier (192k, 1.5M, 128000).
_BITRATE = re.compile(r"[1-9][0-9]*(\.[0-9]+)?[kKM]?")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class IngestSettings(_Section):
    stable_seconds: float = Field(
        3.0, ge=0, description="A raw file is taken only after its size and mtime stayed unchanged this long (s)."
    )
    rescan_seconds: float = Field(
        10.0, gt=0, description="Rescan raw/ this often even without filesystem events; network shares send none (s)."
    )
    min_music_seconds: float = Field(5.0, ge=0, description="Music shorter than this is rejected (s).")
    min_voice_seconds: float = Field(1.0, ge=0, description="Narration with less speech than this is rejected (s).")
    silence_db: float = Field(
        -50.0, description="Audio quieter than this (dBFS) counts as silence when measuring speech length."
    )
    loudness_lufs: float = Field(
        -16.0, ge=-70, le=-5, description="Music is loudness-normalised to this integrated level (EBU R128, LUFS)."
    )
    loudness_true_peak: float = Field(-1.5, ge=-9, le=0, description="True-peak ceiling for normalised music (dBTP).")
    loudness_range: float = Field(11.0, ge=1, le=50, description="Loudness range target for normalised music (LU).")
    workers: int = Field(2, ge=1, le=32, description="Files probed and normalised at once.")


class DiskSettings(_Section):
    low_space_gb: float = Field(
        5.0, ge=0, description="Log a WARN line when free space under the project root falls below this (GB)."
    )
    floor_gb: float = Field(
        1.0, ge=0, description="Below this free space (GB) no new tasks are planned or claimed until space returns."
    )


class PlanSettings(_Section):
    default_category: str = Field(
        "default", description="Category whose music and clips are used when a story's own category has none."
    )
    seed: int | None = Field(None, description="Seed for music and clip picks; unset picks differently each run.")


# Fixed gains of earlier versions (SPEC §6's volume=0.25 and 1.0), replaced by the balance
# in LU and the loudness target; their old defaults, which `storyreel init` used to write.
RETIRED_GAINS = {"music_volume": 0.25, "voice_volume": 1.0}


class RenderSettings(_Section):
    """The render settings, defined once: the project's [render] section, and, resolved,
    every task's metadata.json `render` block (taskmeta.RenderSpec). SPEC §5's fields
    come first, in SPEC order."""

    resolution: str = Field("3840x2160", description="Output size WIDTHxHEIGHT (SPEC §5).")
    frame_rate: int = Field(30, ge=1, le=120, description="Output frame rate (fps).")
    logo: str = Field("", description="Logo image overlaid on the video, relative to the project root; empty for none.")
    output_format: str = Field("mp4", description="Container of the finished video.")
    logo_x: int = Field(20, ge=0, description="Logo's left edge in output pixels.")
    logo_y: int = Field(20, ge=0, description="Logo's top edge in output pixels.")
    logo_width: int = Field(0, ge=0, description="Logo width in output pixels; 0 keeps the image's own size.")
    loudness_lufs: float = Field(
        -14.0, ge=-30, le=-5, description="Integrated loudness of every output (EBU R128, LUFS; YouTube plays at -14)."
    )
    loudness_true_peak: float = Field(-1.0, ge=-9, le=0, description="True-peak ceiling of every output (dBTP).")
    music_under_voice_lu: float = Field(
        12.0, ge=0, le=40, description="The music sits this far under the narration's loudness, before ducking (LU)."
    )
    ducking: bool = Field(True, description="Lower the music while the narration speaks, raise it again in pauses.")
    duck_threshold: float = Field(
        -24.0, ge=-40, le=0, description="Ducking starts when the narration passes this level, under its loudness (dB)."
    )
    duck_ratio: float = Field(8.0, ge=1, le=20, description="How hard the music is pushed down above the threshold (ratio).")
    duck_attack_ms: float = Field(20.0, ge=0.01, le=2000, description="How fast the music ducks when speech starts (ms).")
    duck_release_ms: float = Field(
        250.0, ge=0.01, le=9000, description="How fast the music comes back when speech pauses (ms)."
    )
    encoder: str = Field(
        "auto",
        description="auto probes h264_nvenc, h264_qsv, h264_videotoolbox, h264_vaapi, then libx264; a name forces it.",
    )
    preset: str = Field("medium", description="Speed/quality preset: ultrafast … medium … veryslow (mapped per encoder).")
    quality: int = Field(23, ge=0, le=51, description="Constant quality (CRF/CQ/QP style, lower is better).")
    audio_bitrate: str = Field("192k", description="AAC audio bitrate.")
    scale_flags: str = Field("fast_bilinear", description="Scaler used to fit clips to the output size.")

    @model_validator(mode="before")
    @classmethod
    def _drop_retired(cls, data: Any) -> Any:
        """Files written before the balance was set in LU hold fixed gains; they load, and a
        gain other than the old default is named in a WARN line, since it no longer applies."""
        if not isinstance(data, dict) or not RETIRED_GAINS.keys() & data.keys():
            return data
        data = dict(data)
        for name, old_default in RETIRED_GAINS.items():
            if name in data and data.pop(name) != old_default and cls is RenderSettings:
                get_logger(MAIN_WORKER).warning(
                    "[render] %s is no longer used: the music sits music_under_voice_lu under "
                    "the narration and every output is brought to loudness_lufs", name)
        return data

    @field_validator("resolution")
    @classmethod
    def _check_resolution(cls, value: str) -> str:
        width, sep, height = value.lower().partition("x")
        if not (sep and width.isdigit() and height.isdigit() and int(width) >= 16 and int(height) >= 16):
            raise ValueError("must look like 1920x1080")
        if int(width) % 2 or int(height) % 2:
            raise ValueError("width and height must be even (yuv420p)")
        return f"{int(width)}x{int(height)}"

    @field_validator("audio_bitrate")
    @classmethod
    def _check_bitrate(cls, value: str) -> str:
        if not _BITRATE.fullmatch(value):
            raise ValueError("expected a bitrate like 192k, 1.5M or 128000")
        return value

    @field_validator("output_format")
    @classmethod
    def _check_format(cls, value: str) -> str:
        if value != "mp4":
            raise ValueError("only mp4 is supported")
        return value

    @property
    def size(self) -> tuple[int, int]:
        width, _, height = self.resolution.partition("x")
        return int(width), int(height)


class CoordinatorSettings(_Section):
    listen: ListenText = Field("127.0.0.1:8765", description="Where the main worker serves render nodes (HOST:PORT).")
    lease_seconds: float = Field(
        60.0, gt=0, description="A claimed task returns to tasks/ if its node sends no heartbeat for this long (s)."
    )
    heartbeat_seconds: float = Field(
        5.0, gt=0, description="How often nodes send heartbeats; a node silent for 3 periods is logged as lost (s)."
    )
    max_attempts: int = Field(3, ge=1, description="A task whose lease expired this many times goes to trash/failed/.")
    max_upload_gb: float = Field(
        50.0, gt=0, description="A render announced larger than this (GB) is refused (413) before a byte is stored."
    )


class NodeSettings(_Section):
    upload_retries: int = Field(
        3, ge=0, description="Upload retries after the first try before the task is reported failed (SPEC §8)."
    )
    retry_backoff_seconds: float = Field(2.0, ge=0, description="First wait between upload tries; doubles each time (s).")
    poll_seconds: float = Field(2.0, gt=0, description="Wait between claims when there is nothing to do (s).")
    work_dir: str = Field("", description="Where a node keeps downloaded inputs; empty for a temp folder.")


class CrawlSettings(_Section):
    allow_private_networks: bool = Field(
        False, description="Allow story links to loopback/private addresses (intranet crawling). Off: refused."
    )
    allow_networks: list[str] = Field(
        [],
        description="Networks story links may reach even with private networks off, e.g. [\"10.1.2.0/24\"] (CIDR).",
    )
    user_agent: str = Field("storyreel/0.1 (+story crawler)", description="User-Agent sent with every fetch.")
    connect_timeout: float = Field(10.0, gt=0, description="Seconds to connect to a story site.")
    read_timeout: float = Field(20.0, gt=0, description="Seconds to wait for each piece of a response.")
    deadline_seconds: float = Field(60.0, gt=0, description="Overall time allowed for one URL, redirects included.")
    max_bytes: int = Field(5_000_000, gt=0, description="Largest page body accepted, enforced while streaming.")
    max_redirects: int = Field(5, ge=0, description="Redirect hops followed, each re-checked.")
    retries: int = Field(3, ge=0, description="Retries of timeouts, 5xx and resets before a link is rejected.")
    retry_backoff_seconds: float = Field(
        1.0, ge=0, description="First wait before retrying a URL; doubles each retry, within the deadline (s)."
    )
    concurrency: int = Field(4, ge=1, description="Links fetched at once, so a slow site cannot stall the rest.")
    chunk_words: int = Field(10_000, ge=100, description="Most words per chunk_NNNN.txt (SPEC §4).")
    min_words: int = Field(
        20, ge=1, description="A link file whose pages give fewer words is rejected: a boilerplate-only page, not a story."
    )

    @field_validator("allow_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"{network!r} is not a network like 10.1.2.0/24") from exc
        return value


# What each [captions] setting does, for `storyreel init`'s commented file; the fields,
# defaults and bounds are CaptionSettings' own (captions/settings.py).
CAPTION_HELP = {
    "enabled": "Burn captions timed to the narration into chapters whose story has text (chunk_NNNN.txt).",
    "style": "words (a few words, the spoken one highlighted), lines (one or two lines) or karaoke (a sweep).",
    "font": "Font family, found through fontconfig and copied into each task folder.",
    "bold": "Bold captions.",
    "size": "Font height as a share of the frame height.",
    "colour": "Text colour (#RRGGBB).",
    "highlight": "Colour of the word being said (words) and of the sweep (karaoke) (#RRGGBB).",
    "outline_colour": "Outline colour (#RRGGBB).",
    "outline": "Outline width as a share of the font height.",
    "position": "bottom, middle or top, inside the platforms' safe area.",
    "words_per_cue": "Words shown at a time (style words).",
    "chars_per_line": "Most characters per line (styles lines and karaoke).",
    "lines_per_cue": "Lines shown at a time (style lines).",
}


class CaptionsSettings(CaptionSettings):
    """The project's [captions] section: CaptionSettings as the toml file gives it (styles
    and positions as text)."""

    @field_validator("style", "position", mode="before")
    @classmethod
    def _choice(cls, value: object, info: Any) -> object:
        kind = CaptionStyle if info.field_name == "style" else CaptionPosition
        if isinstance(value, str) and not isinstance(value, kind):
            if value not in {member.value for member in kind}:
                raise ValueError("expected " + ", ".join(member.value for member in kind))
            return kind(value)
        return value

    def resolved(self) -> CaptionSettings:
        """The plain CaptionSettings a task's metadata.json records."""
        return CaptionSettings.model_validate(self.model_dump())


class Settings(_Section):
    log_level: str = Field("INFO", description="DEBUG, INFO, WARN or ERROR.")
    ingest: IngestSettings = IngestSettings()
    disk: DiskSettings = DiskSettings()
    plan: PlanSettings = PlanSettings()
    render: RenderSettings = RenderSettings()
    coordinator: CoordinatorSettings = CoordinatorSettings()
    node: NodeSettings = NodeSettings()
    crawl: CrawlSettings = CrawlSettings()
    captions: CaptionsSettings = CaptionsSettings()

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        try:
            parse_level(value)
        except ConfigError:
            raise ValueError(f"expected {LEVELS_TEXT}") from None
        return value


def load(path: Path) -> Settings:
    """Read settings from a TOML file; a missing file gives the defaults.

    Numbers must be TOML numbers (strict): a quoted "30" is text, refused, not read as 30."""
    if not path.exists():
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot parse {path}: {exc}") from exc
    try:
        return Settings.model_validate(data, strict=True)
    except ValidationError as exc:
        problems = "; ".join(setting_problem(err) for err in exc.errors())
        raise ConfigError(f"bad setting in {path}: {problems}") from exc


def validation_problems(exc: ValidationError) -> str:
    """A pydantic error as one line: `render.resolution: must look like 1920x1080; …`."""
    return "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())


def setting_name(loc: tuple[str | int, ...]) -> str:
    """A setting as the toml file shows it: `[render] encoder`, or `log_level` at the top."""
    names = [str(part) for part in loc if isinstance(part, str)]
    return f"[{'.'.join(names[:-1])}] {names[-1]}" if len(names) > 1 else ".".join(names)


def did_you_mean(word: str, choices: list[str]) -> str:
    """ ": did you mean encoder?" for the closest of `choices`, or "" when none is close."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f": did you mean {close[0]}?" if close else ""


def _known_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The setting names allowed where `loc` points (its section's fields)."""
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return []
        model = field.annotation
    return list(model.model_fields)


# Strict type errors and what the operator should write instead.
_TYPE_HINTS = {
    "int_type": "expected a whole number",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "string_type": "expected text in quotes",
    "list_type": "expected a list in brackets",
}


def setting_problem(err: Any) -> str:
    """One pydantic error about the toml file as a sentence naming the setting and value."""
    loc = tuple(err["loc"])
    name = setting_name(loc)
    dotted = ".".join(str(part) for part in loc)
    where = f"{name} ({dotted})" if dotted != name else name
    if err["type"] == "extra_forbidden":
        return f"{where} is not a setting{did_you_mean(str(loc[-1]), _known_keys(loc))}"
    value = err["input"]
    reason = _TYPE_HINTS.get(err["type"], str(err["msg"]).removeprefix("Value error, "))
    if err["type"] in _TYPE_HINTS and isinstance(value, str):
        reason += f", not text: write {_unquoted(value)} without quotes" if _unquoted(value) else ", not text"
    shown = _toml_value(value) if isinstance(value, str | int | float | list) else repr(value)
    return f"{name} = {shown}{where.removeprefix(name)}: {reason}"


def _unquoted(text: str) -> str:
    """What a quoted number or boolean should have been written as, or "" when it is neither."""
    try:
        return _toml_value(tomllib.loads(f"v = {text.strip()}")["v"]) if text.strip() else ""
    except tomllib.TOMLDecodeError:
        return ""


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _emit(model: BaseModel, lines: list[str]) -> None:
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            continue
        lines.append(f"# {field.description or CAPTION_HELP[name]}")
        if value is None:
            lines.append(f"# {name} = ")
        else:
            lines.append(f"{name} = {_toml_value(value)}")


def default_toml() -> str:
    """A commented storyreel.toml holding every default."""
    settings = Settings()
    lines = [
        "# storyreel settings. Every value shown is the default; edit to change.",
        "# Reference: README.md, section 'Configuration'.",
        "",
    ]
    _emit(settings, lines)
    for name in Settings.model_fields:
        section = getattr(settings, name)
        if isinstance(section, BaseModel):
            lines += ["", f"[{name}]"]
            _emit(section, lines)
    return "\n".join(lines) + "\n"
