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
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from storyreel.captions.settings import CaptionPosition, CaptionSettings, CaptionStyle
from storyreel.errors import ConfigError
from storyreel.logs import LEVELS_TEXT, MAIN_WORKER, get_logger, parse_level
from storyreel.netaddr import ListenText

# An ffmpeg bitrate: digits, an optional fraction and a k or M multiplier (192k, 1.5M, 128000).
_BITRATE = re.compile(r"[1-9][0-9]*(\.[0-9]+)?[kKM]?")
# A colour as #RRGGBB.
_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")


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
    rescan_seconds: float = Field(
        30.0, gt=0, description="List scanned/story/ and the task folders again this often, for files moved by hand (s)."
    )


# Fixed gains of earlier versions (SPEC §6's volume=0.25 and 1.0), replaced by the balance
# in LU and the loudness target; their old defaults, which `storyreel init` used to write.
RETIRED_GAINS = {"music_volume": 0.25, "voice_volume": 1.0}
# A part shorter than this costs more in its own start-up and join than a node saves (s).
MIN_SEGMENT_SECONDS = 5.0


class RenderSettings(_Section):
    """The render settings, defined once: the project's [render] section, and, resolved,
    every task's metadata.json `render` block (taskmeta.RenderSpec). SPEC §5's fields
    come first, in SPEC order."""

    resolution: str = Field("3840x2160", description="Output size WIDTHxHEIGHT, e.g. 1920x1080.")
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
    fill: Literal["blur", "fit", "crop"] = Field(
        "blur",
        description="Clips of another shape: blur (fitted over a blurred copy), fit (black bars) or crop (fill).",
    )
    transition: Literal["cut", "fade"] = Field("cut", description="Between clips: cut, or fade (a cross-fade).")
    transition_seconds: float = Field(0.5, gt=0, le=5, description="Length of each fade between clips (s).")
    frame: bool = Field(True, description="Lay one of the category's frame/ clips over the picture, when it has any.")
    frame_key_color: str = Field(
        "", description="Frame clips: this colour (#RRGGBB) is see-through; empty blends them by screen."
    )
    title_seconds: float = Field(
        0.0, ge=0, le=30, description="Show the story's title over the first seconds, fading out; 0 for none (s)."
    )
    segment_seconds: float = Field(
        0.0, ge=0, le=3600,
        description="Split a chapter at least twice this long into parts of about this length, rendered on "
                    "several nodes at once and joined; 0 renders each chapter on one node (s).",
    )

    @field_validator("segment_seconds")
    @classmethod
    def _segment_floor(cls, value: float) -> float:
        if 0 < value < MIN_SEGMENT_SECONDS:
            raise ValueError(f"must be 0 (off) or at least {MIN_SEGMENT_SECONDS:g} s")
        return value

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

    @field_validator("frame_key_color")
    @classmethod
    def _check_key_color(cls, value: str) -> str:
        if value and not _COLOUR.fullmatch(value):
            raise ValueError("expected a colour like #00FF00, or empty")
        return value.upper()

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
    max_render_failures: int = Field(
        2, ge=1, description="A task whose render failed this many times, each on another node when there is one, goes to trash/failed/."
    )
    pause_after_failures: int = Field(
        3, ge=1, description="A node that fails this many different tasks in a row is paused until `storyreel node resume`."
    )
    max_upload_gb: float = Field(
        50.0, gt=0, description="A render announced larger than this (GB) is refused (413) before a byte is stored."
    )


class NodeSettings(_Section):
    upload_retries: int = Field(
        3, ge=0, description="Upload retries after the first try before the task is reported failed."
    )
    retry_backoff_seconds: float = Field(2.0, ge=0, description="First wait between upload tries; doubles each time (s).")
    poll_seconds: float = Field(2.0, gt=0, description="Wait between claims when there is nothing to do (s).")
    work_dir: str = Field("", description="Where a node keeps downloaded inputs; empty for a temp folder.")


NarrationMode = Literal["off", "missing"]


class NarrationSettings(_Section):
    mode: NarrationMode = Field(
        "off", description="off, or missing: a story chunk whose chapter has no voice after wait_seconds is narrated by a render node."
    )
    wait_seconds: float = Field(
        600.0, ge=0, description="How long a chunk waits for an operator's voice before it is narrated (s)."
    )
    engine: Literal["auto", "piper", "espeak-ng"] = Field(
        "auto", description="auto (piper where a node has it, else espeak-ng), piper, or espeak-ng."
    )
    voice: str = Field(
        "", max_length=200,
        description="The engine's voice: a piper voice package or .onnx file, an espeak-ng voice; empty for the engine's default.",
    )


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
    chunk_words: int = Field(10_000, ge=100, description="Most words per chunk_NNNN.txt.")
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


# The profile every category renders unless its [categories.<name>] says otherwise: the
# [render] and [captions] sections as written.
MAIN_PROFILE = "main"

# The sections a profile overrides, each starting from the project's own.
PROFILE_SECTIONS = ("render", "captions")

# A profile name appears in log lines, metadata.json and toml table names: kept plain.
_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class ProfileSettings(_Section):
    """One `[profiles.<name>]`: the render and caption settings of one more rendering of a
    chapter. Each section is the project's [render] / [captions] with the profile's keys
    replaced (Settings merges them before validation), so it is checked like them."""

    render: RenderSettings = RenderSettings()
    captions: CaptionsSettings = CaptionsSettings()


class CategorySettings(_Section):
    profiles: list[str] = Field(
        [MAIN_PROFILE],
        description="Profiles this category's chapters are rendered to, one task per chapter and profile.",
    )
    narration: NarrationMode | None = Field(
        None, description="This category's [narration] mode (off or missing); unset: [narration] mode.",
    )

    @field_validator("profiles")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError(f'names no profile: ["{MAIN_PROFILE}"] renders [render] as written')
        twice = sorted({name for name in value if value.count(name) > 1})
        if twice:
            raise ValueError(f"names {', '.join(twice)} twice")
        return value


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
    narration: NarrationSettings = NarrationSettings()
    profiles: dict[str, ProfileSettings] = Field(
        {}, description="More renderings of each chapter, each overriding any [render] or [captions] setting.",
    )
    categories: dict[str, CategorySettings] = Field(
        {}, description=f"Per category, its profiles; without a line [\"{MAIN_PROFILE}\"]: [render] and [captions] as written.",
    )

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        try:
            parse_level(value)
        except ConfigError:
            raise ValueError(f"expected {LEVELS_TEXT}") from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _profiles_start_from_sections(cls, data: Any) -> Any:
        """Each profile section starts from the project's own: [profiles.shorts.render] is
        [render] with the keys it sets replaced."""
        if not isinstance(data, dict) or not isinstance(data.get("profiles"), dict):
            return data
        profiles = {}
        for name, profile in data["profiles"].items():
            if isinstance(profile, dict):
                profile = {**profile, **{section: _merged(data.get(section), profile.get(section))
                                         for section in PROFILE_SECTIONS}}
            profiles[name] = profile
        return {**data, "profiles": profiles}

    @model_validator(mode="after")
    def _check_profile_names(self) -> Settings:
        for name in self.profiles:
            if name == MAIN_PROFILE:
                raise ValueError(f"[profiles.{name}] is not a setting: the {MAIN_PROFILE} profile is "
                                 "[render] and [captions] themselves; give another profile another name")
            if not _PROFILE_NAME.fullmatch(name):
                raise ValueError(f"[profiles.{_toml_key(name)}]: a profile name is letters, digits, - and _ "
                                 "(at most 64)")
        known = [MAIN_PROFILE, *self.profiles]
        for category, chosen in self.categories.items():
            for name in chosen.profiles:
                if name not in known:
                    raise ValueError(f"[categories.{_toml_key(category)}] profiles = {_toml_value(chosen.profiles)}: "
                                     f"no profile {name}{did_you_mean(name, known)} (profiles are {MAIN_PROFILE} "
                                     "and the [profiles.<name>] sections)")
        return self

    def profile(self, name: str) -> ProfileSettings:
        """The render and caption settings of profile `name` (main: [render] and [captions])."""
        if name == MAIN_PROFILE:
            return ProfileSettings(render=self.render, captions=self.captions)
        return self.profiles[name]

    def narration_mode(self, category: str) -> NarrationMode:
        """Whether a category's chunks without a voice are narrated: its own setting, else [narration]'s."""
        chosen = self.categories.get(category)
        if chosen is not None and chosen.narration is not None:
            return chosen.narration
        return self.narration.mode

    def profiles_for(self, category: str) -> list[str]:
        """The profiles a category's chapters are rendered to, in the order the file lists them."""
        chosen = self.categories.get(category)
        return list(chosen.profiles) if chosen is not None else [MAIN_PROFILE]


def _merged(base: Any, override: Any) -> Any:
    """A profile section: the project's section with the profile's keys replaced. Anything
    but a table is left as written, for validation to name."""
    if isinstance(base, BaseModel):
        base = base.model_dump()
    if override is None:
        override = {}
    if not isinstance(override, dict):
        return override
    return {**(base if isinstance(base, dict) else {}), **override}


def profile_section(profile: str, section: str) -> str:
    """The toml table of a profile's settings: `render` for main, else `profiles.shorts.render`."""
    return section if profile == MAIN_PROFILE else f"profiles.{profile}.{section}"


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
        errors = [err for err in exc.errors() if not _inherited(err, data)]
        problems = "; ".join(dict.fromkeys(setting_problem(err) for err in errors))
        raise ConfigError(f"bad setting in {path}: {problems}") from exc


def _inherited(err: Any, data: dict[str, Any]) -> bool:
    """True for a profile's error about a key it does not set: the project section's own
    error, which is reported once, under [render] or [captions]."""
    loc = tuple(err["loc"])
    if len(loc) < 4 or loc[0] != "profiles" or loc[2] not in PROFILE_SECTIONS:
        return False
    profile = (data.get("profiles") or {}).get(loc[1])
    own = profile.get(loc[2]) if isinstance(profile, dict) else None
    return isinstance(own, dict) and loc[3] not in own


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
    """The setting names allowed where `loc` points (its section's fields); a table of
    named sections ([profiles.<name>], [categories.<name>]) is looked through."""
    model: type[BaseModel] = Settings
    parts = list(loc[:-1])
    while parts:
        field = model.model_fields.get(str(parts.pop(0)))
        annotation = field.annotation if field is not None else None
        if get_origin(annotation) is dict and parts:
            parts.pop(0)  # the section's own name
            annotation = get_args(annotation)[1]
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _section_hint(loc: tuple[str | int, ...]) -> str:
    """ ": did you mean [profiles.shorts.render] resolution?" for a render or caption
    setting written straight under [profiles.shorts]; "" otherwise."""
    if len(loc) != 3 or loc[0] != "profiles":
        return ""
    key = str(loc[2])
    for section, model in (("render", RenderSettings), ("captions", CaptionsSettings)):
        if key in model.model_fields:
            return f": did you mean [profiles.{_toml_key(str(loc[1]))}.{section}] {key}?"
    return ""


# Strict type errors and what the operator should write instead.
_TYPE_HINTS = {
    "int_type": "expected a whole number",
    "float_type": "expected a number",
    "bool_type": "expected true or false",
    "string_type": "expected text in quotes",
    "list_type": "expected a list in brackets",
    "dict_type": "expected a table of settings",
    "model_type": "expected a table of settings",
}


def setting_problem(err: Any) -> str:
    """One pydantic error about the toml file as a sentence naming the setting and value."""
    loc = tuple(err["loc"])
    if not loc:  # a check across sections: its message names the settings itself
        return str(err["msg"]).removeprefix("Value error, ")
    name = setting_name(loc)
    dotted = ".".join(str(part) for part in loc)
    where = f"{name} ({dotted})" if dotted != name else name
    if err["type"] == "extra_forbidden":
        hint = _section_hint(loc) or did_you_mean(str(loc[-1]), _known_keys(loc))
        return f"{where} is not a setting{hint}"
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


def _toml_key(name: str) -> str:
    """A table or key name as toml writes it: bare when it can be, else quoted."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml_value(name)


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
        if isinstance(value, BaseModel | dict):
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
    lines += _PROFILES_EXAMPLE
    return "\n".join(lines) + "\n"


def _profiles_example() -> list[str]:
    """The commented [profiles.<name>] and [categories.<name>] example `init` writes."""
    fields = Settings.model_fields
    return [
        "",
        f"# {fields['profiles'].description}",
        "# None by default; for example a 9:16 short with word-by-word captions:",
        "# [profiles.shorts.render]",
        '# resolution = "1080x1920"',
        "# [profiles.shorts.captions]",
        '# style = "words"',
        "",
        f"# {fields['categories'].description}",
        "# [categories.fantasy]",
        f'# profiles = ["{MAIN_PROFILE}", "shorts"]',
        '# narration = "missing"',
    ]


_PROFILES_EXAMPLE = _profiles_example()
