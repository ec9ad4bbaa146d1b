"""The project folder: every folder name and naming rule of SPEC §2 lives here.

Nothing else in storyreel builds a project path by hand. The folders are the
durable state: a file's folder *is* its state, so there is no database to keep
in step with them.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

# Temp files and folders that storyreel writes before an atomic rename carry this
# prefix; they are hidden from operators and swept away at start.
TEMP_PREFIX = ".storyreel-tmp-"

# Name endings of files still being written by browsers, rsync, editors and us.
TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".partial", ".download", ".swp", "~")

CONFIG_NAME = "storyreel.toml"
REASON_SUFFIX = ".reason.json"
# A processed story link keeps, beside it, a record of its URLs, fetch time and chunks.
LINK_RECORD_SUFFIX = ".record.json"
# A scanned voice chapter keeps, beside it under a hidden name, the duration ingest measured.
VOICE_RECORD_SUFFIX = ".json"
# Beside a synthesized voice chapter (hidden): the word timings its engine reported.
VOICE_WORDS_SUFFIX = ".words.json"

# Files inside a task folder (SPEC §2, §5).
METADATA_NAME = "metadata.json"
VOICE_NAME = "voice.mp3"
MUSIC_NAME = "music.mp3"
VIDEO_LIST_NAME = "video_list.txt"
# A task's frame clip (scanned/frame/…), linked under this name when it has one.
FRAME_NAME = "frame.mp4"
LEASE_NAME = "lease.json"
FINAL_NAME = "final.mp4"
# A render task split into segment tasks: their ids (taskmeta.SplitRecord), and each
# finished part beside it (`Layout.part_name`); a segment task's render is PART_NAME.
SPLIT_NAME = "split.json"
PART_NAME = "part.mp4"
STDERR_NAME = "stderr.log"
FAILURE_REASON_NAME = "reason.json"

CHAPTER_RE = re.compile(r"^chapter_(\d{4,})\.mp3$")
CHUNK_RE = re.compile(r"^chunk_(\d{4,})\.txt$")
VIDEO_PART_RE = re.compile(r"^video_(\d{4,})\.mp4$")
_TASK_ID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TASK_ID_RE = re.compile(rf"^{_TASK_ID}$")
# A render node's scratch folder for one attempt of one task (see attempt_dir_name).
ATTEMPT_DIR_RE = re.compile(rf"^{_TASK_ID}-a\d+$")

# Longest file name component we accept; most filesystems stop at 255 bytes and we
# add a "<duration>_" prefix and temp prefixes to names.
MAX_NAME_BYTES = 200
# Longest name component filesystems accept (ext4, XFS, btrfs, ZFS, APFS), in bytes.
NAME_MAX = 255
# A shortened name ends in "~" and this many hex digits of the whole name's sha256,
# so two long names that share their beginning stay apart.
NAME_HASH_CHARS = 8
# A suffix longer than this (bytes) is not an extension worth keeping in a shortened name.
MAX_SUFFIX_BYTES = 16
# Undecodable bytes in names shown in log lines and reason files, and stored in trash/.
_UNDECODABLE_SHOWN = "\\x{:02x}"
_UNDECODABLE_STORED = "%{:02X}"
_SCANNED_SIZE_RE = re.compile(r"mp4_w([0-9]+)_h([0-9]+)")
_SHOWN_SURROGATE_RE = re.compile(r"(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])")


class AssetKind(StrEnum):
    """The four kinds of asset under raw/ and scanned/."""

    STORY = "story"
    VIDEO = "video"
    FRAME = "frame"
    MUSIC = "music"


class RawRole(StrEnum):
    """What a file under raw/ is, judged from its place and name alone."""

    VIDEO = "video"
    FRAME = "frame"
    MUSIC = "music"
    VOICE = "voice"
    LINK = "link"


class TaskState(StrEnum):
    """A task's lifecycle. Each state is one folder (see Layout.state_dir)."""

    QUEUED = "queued"  # tasks/<id>/
    PROCESSING = "processing"  # processing/<id>/ with lease.json
    DONE = "done"  # output/<id>/final.mp4
    FAILED = "failed"  # trash/failed/<id>/ with stderr.log and reason.json


def attempt_dir_name(task_id: str, attempt: int) -> str:
    """A render node's scratch folder for one attempt of one task: `<task uuid>-a<attempt>`."""
    return f"{task_id}-a{attempt}"


def format_duration(seconds: float) -> str:
    """Seconds with one decimal, as in SPEC §9's `12.4_abc.mp4`."""
    return f"{seconds:.1f}"


def name_problem(name: str) -> str | None:
    """Why a single path component is unsafe to handle, or None when it is fine."""
    if not name:
        return "empty name"
    if name in (".", ".."):
        return f"reserved name {name!r}"
    if ".." in name:
        return "name contains '..'"
    if name.startswith("-"):
        return "name starts with '-' (would read as a command-line option)"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        return "name contains control or invisible formatting characters"
    if any("\udc80" <= ch <= "\udcff" for ch in name):
        return "name is not valid UTF-8"
    if "/" in name or "\\" in name:
        return "name contains a path separator"
    if name_bytes(name) > MAX_NAME_BYTES:
        return f"name is longer than {MAX_NAME_BYTES} bytes"
    return None


def name_bytes(name: str) -> int:
    """A name's length as filesystems count it: bytes, not characters."""
    return len(os.fsencode(name))


def cut_to_bytes(text: str, limit: int) -> str:
    """The longest beginning of `text` that is at most `limit` bytes, cut between characters."""
    if name_bytes(text) <= limit:
        return text
    kept, used = [], 0
    for ch in text:
        used += name_bytes(ch)
        if used > limit:
            break
        kept.append(ch)
    return "".join(kept)


def fit_name(name: str, limit: int = NAME_MAX) -> str:
    """`name`, or when it is over `limit` bytes a shortened name that keeps its suffix
    and ends its stem in `~` and a short hash of the whole name (so it stays unique)."""
    if name_bytes(name) <= limit:
        return name
    suffix = Path(name).suffix
    if name_bytes(suffix) > MAX_SUFFIX_BYTES:
        suffix = ""
    stem = name[: len(name) - len(suffix)] if suffix else name
    tag = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:NAME_HASH_CHARS]
    return cut_to_bytes(stem, limit - name_bytes(tag) - name_bytes(suffix)) + tag + suffix


def _replace_undecodable(text: str, form: str) -> str:
    """Write each byte that was not UTF-8 (a surrogate escape, as os.listdir gives it) in `form`."""
    return "".join(form.format(ord(ch) - 0xDC00) if "\udc80" <= ch <= "\udcff" else ch for ch in text)


def shown(text: str) -> str:
    """Text safe to write as UTF-8 (log lines, reason files): bytes of a name that were
    not UTF-8 appear as `\\xff`."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        escaped = _replace_undecodable(text, _UNDECODABLE_SHOWN)
        return escaped.encode("utf-8", "backslashreplace").decode("utf-8")


def quoted(name: str) -> str:
    """`repr(name)` for reasons, with bytes that were not UTF-8 as `\\xff` (as in `shown`)."""
    return _SHOWN_SURROGATE_RE.sub(r"\1\\x\2", repr(name))


def storable(name: str) -> str:
    """A name that can be written as UTF-8: bytes that were not UTF-8 become `%FF`
    (no backslash: SMB clients read it as a folder separator)."""
    return _replace_undecodable(name, _UNDECODABLE_STORED)


def is_ignored_name(name: str) -> bool:
    """Hidden and temporary names: files still being written, or not meant for us."""
    return name.startswith(".") or name.lower().endswith(TEMP_SUFFIXES)


@dataclass(frozen=True)
class RawAsset:
    """A file under raw/ whose place and name say what it is."""

    path: Path
    rel: Path  # path under raw/
    role: RawRole
    category: str
    name: str  # file name
    story: str | None = None  # story name, for VOICE and LINK

    @property
    def stem(self) -> str:
        return Path(self.name).stem


@dataclass(frozen=True)
class RawRejection:
    """A file under raw/ that cannot be ingested whatever its content."""

    path: Path
    rel: Path
    reason: str


_EXPECTED = (
    "expected raw/video/<category>/<name>.mp4, raw/frame/<category>/<name>.mp4, "
    "raw/music/<category>/<name>.mp3, raw/story/<category>/<story>/voice/chapter_NNNN.mp3 "
    "or raw/story/<category>/<story>/link/<name>.txt"
)


class Layout:
    """Paths of one project root (SPEC §2)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).absolute()

    # -- top-level folders -------------------------------------------------
    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def scanned(self) -> Path:
        return self.root / "scanned"

    @property
    def tasks(self) -> Path:
        return self.root / "tasks"

    @property
    def processing(self) -> Path:
        return self.root / "processing"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def trash(self) -> Path:
        return self.root / "trash"

    @property
    def invalid(self) -> Path:
        return self.trash / "invalid"

    @property
    def failed(self) -> Path:
        return self.trash / "failed"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def state(self) -> Path:
        """storyreel's own bookkeeping (token, move journal); not part of SPEC §2."""
        return self.root / ".storyreel"

    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def log_file(self) -> Path:
        return self.logs / "storyreel.log"

    @property
    def events_file(self) -> Path:
        return self.logs / "events.jsonl"

    @property
    def token_file(self) -> Path:
        return self.state / "token"

    @property
    def node_tokens_file(self) -> Path:
        """The per-node tokens, hashed (tokens.py); written by `storyreel token` beside a running main worker."""
        return self.state / "node-tokens.json"

    @property
    def journal(self) -> Path:
        return self.state / "journal"

    @property
    def coordinator_file(self) -> Path:
        """Where a running main worker records the URL it serves render nodes on."""
        return self.state / "coordinator.json"

    @property
    def waiting_file(self) -> Path:
        """The chapters a running main worker cannot plan yet, and why (waitlist.py)."""
        return self.state / "waiting.json"

    @property
    def coordinator_lock(self) -> Path:
        """Held (flock) by the one main worker that serves this root; a second one is refused."""
        return self.state / "coordinator.lock"

    def all_dirs(self) -> list[Path]:
        """Every folder `storyreel init` creates."""
        kinds = [self.raw / k for k in AssetKind] + [self.scanned / k for k in AssetKind]
        return [
            self.raw, *kinds, self.scanned, self.tasks, self.processing, self.output,
            self.trash, self.invalid, self.failed, self.logs, self.state, self.journal,
        ]

    # -- raw/ --------------------------------------------------------------
    def classify_raw(self, path: Path) -> RawAsset | RawRejection:
        """Say what a file under raw/ is from its place and name (not its content)."""
        path = Path(path)
        rel = path.relative_to(self.raw)
        parts = rel.parts
        for part in parts:
            problem = name_problem(part)
            if problem:
                return RawRejection(path, rel, f"unsafe name {quoted(part)}: {problem}")
        kind = parts[0] if parts else ""
        suffix = path.suffix.lower()
        if kind in (AssetKind.VIDEO, AssetKind.FRAME) and len(parts) == 3:
            if suffix != ".mp4":
                return RawRejection(path, rel, f"{kind} clips must be .mp4, not {suffix or 'no extension'}")
            return RawAsset(path, rel, RawRole(kind), parts[1], parts[2])
        if kind == AssetKind.MUSIC and len(parts) == 3:
            if suffix != ".mp3":
                return RawRejection(path, rel, f"music must be .mp3, not {suffix or 'no extension'}")
            return RawAsset(path, rel, RawRole.MUSIC, parts[1], parts[2])
        if kind == AssetKind.STORY and len(parts) == 5 and parts[3] == "voice":
            if not CHAPTER_RE.match(parts[4]):
                return RawRejection(path, rel, "voice files must be named chapter_NNNN.mp3")
            return RawAsset(path, rel, RawRole.VOICE, parts[1], parts[4], story=parts[2])
        if kind == AssetKind.STORY and len(parts) == 5 and parts[3] == "link":
            if suffix != ".txt":
                return RawRejection(path, rel, f"story links must be .txt, not {suffix or 'no extension'}")
            return RawAsset(path, rel, RawRole.LINK, parts[1], parts[4], story=parts[2])
        return RawRejection(path, rel, f"unexpected place for a file: {_EXPECTED}")

    def invalid_dest(self, raw_path: Path) -> Path:
        """trash/invalid/ keeps the file's path under raw/ (or under scanned/, for a clip a
        render could not decode), each name made storable (see `storable`) and shortened
        (see `fit_name`) where it or its reason file's name would be over NAME_MAX bytes."""
        base = self.scanned if Path(raw_path).is_relative_to(self.scanned) else self.raw
        *folders, name = Path(raw_path).relative_to(base).parts
        kept = [fit_name(storable(part)) for part in folders]
        return self.invalid.joinpath(*kept, fit_name(storable(name), NAME_MAX - len(REASON_SUFFIX)))

    @staticmethod
    def invalid_twin(dest: Path, number: int) -> Path:
        """The trash name of the `number`th file that wanted the trash name `dest`."""
        name = f"{dest.stem}.{number}{dest.suffix}"
        return dest.with_name(fit_name(name, NAME_MAX - len(REASON_SUFFIX)))

    @staticmethod
    def reason_file(trashed: Path) -> Path:
        """The reason file written beside a file moved to trash/invalid/."""
        return trashed.with_name(trashed.name + REASON_SUFFIX)

    # -- scanned/ ------------------------------------------------------------
    def scanned_clip(
        self, kind: AssetKind | str, category: str, width: int, height: int, duration: float,
        stem: str,
    ) -> Path:
        folder = self.scanned / str(kind) / category / f"mp4_w{width}_h{height}"
        return folder / f"{format_duration(duration)}_{stem}.mp4"

    def scanned_music(self, category: str, duration: float, stem: str) -> Path:
        return self.scanned / AssetKind.MUSIC / category / "mp3" / f"{format_duration(duration)}_{stem}.mp3"

    def scanned_story(self, category: str, story: str) -> Path:
        return self.scanned / AssetKind.STORY / category / story

    def scanned_voice(self, category: str, story: str, chapter_name: str) -> Path:
        return self.scanned_story(category, story) / "voice" / chapter_name

    def scanned_chunk(self, category: str, story: str, number: int) -> Path:
        return self.scanned_story(category, story) / f"chunk_{number:04d}.txt"

    def scanned_link_dir(self, category: str, story: str) -> Path:
        return self.scanned_story(category, story) / "link"

    def story_of(self, path: Path) -> tuple[str, str]:
        """(category, story) of a path inside a story folder, scanned/story/<category>/<story>/…"""
        parts = Path(path).relative_to(self.scanned / AssetKind.STORY).parts
        if len(parts) < 3:
            raise ValueError(f"{path} is not inside a story folder")
        return parts[0], parts[1]

    def chapter_of(self, voice: Path) -> str:
        """A scanned voice chapter's key: its path under the root, as metadata.json's `chapter`."""
        return self.relative(voice)

    def relative(self, path: Path) -> str:
        """A path under the root as metadata.json and the log name it (`scanned/music/…`)."""
        return Path(path).relative_to(self.root).as_posix()

    def scanned_chunks(self, category: str, story: str) -> list[Path]:
        """A story's chunk_NNNN.txt files, in number order."""
        folder = self.scanned_story(category, story)
        if not folder.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := CHUNK_RE.match(p.name))]
        return [p for _, p in sorted(found)]

    def scanned_link(self, category: str, story: str, name: str) -> Path:
        """Where a processed link file goes: link/<name>, or link/<stem>.N<suffix> when taken."""
        folder = self.scanned_link_dir(category, story)
        dest, counter = folder / name, 1
        while dest.exists() or self.link_record(dest).exists():
            dest = folder / f"{Path(name).stem}.{counter}{Path(name).suffix}"
            counter += 1
        return dest

    def next_chunk_number(self, category: str, story: str) -> int:
        """The number a story's next chunk takes: one after its highest."""
        chunks = self.scanned_chunks(category, story)
        last = CHUNK_RE.match(chunks[-1].name) if chunks else None
        return int(last.group(1)) + 1 if last else 1

    @staticmethod
    def link_record(link: Path) -> Path:
        """The record written beside a processed link file: URLs, fetch time, chunks."""
        return link.with_name(link.name + LINK_RECORD_SUFFIX)

    @staticmethod
    def link_of_record(record: Path) -> Path:
        """The processed link file a record belongs to (the inverse of `link_record`)."""
        return record.with_name(record.name.removesuffix(LINK_RECORD_SUFFIX))

    def link_records(self) -> list[Path]:
        """Every processed link file's record under scanned/story/, sorted."""
        return sorted(self.scanned.glob(f"{AssetKind.STORY}/*/*/link/*{LINK_RECORD_SUFFIX}"))

    def scanned_voices(self) -> list[Path]:
        """Every scanned voice chapter, sorted (one directory listing per folder, no stat)."""
        return sorted(v for story in self.scanned_stories() for v in self.voices_in(Path(story, "voice")))

    def scanned_stories(self) -> list[str]:
        """Every story folder under scanned/story/<category>/ (hidden names left out), as
        path strings: the planner's idle listing looks at 10,000 of them."""
        return [story for category in _subfolders(str(self.scanned / AssetKind.STORY)) for story in _subfolders(category)]

    @staticmethod
    def voices_in(voice_folder: Path) -> list[Path]:
        """The voice chapters (chapter_NNNN.mp3) of one story's voice/ folder."""
        return [voice_folder / name for name in _names(voice_folder) if CHAPTER_RE.match(name)]

    @staticmethod
    def voice_record(voice: Path) -> Path:
        """The hidden record beside a scanned voice chapter: its duration, size and mtime."""
        return voice.with_name("." + voice.name + VOICE_RECORD_SUFFIX)

    @staticmethod
    def voice_words(voice: Path) -> Path:
        """The hidden word timings beside a synthesized voice chapter (its engine's own)."""
        return voice.with_name("." + voice.name + VOICE_WORDS_SUFFIX)

    def scanned_clips(self, kind: AssetKind | str, category: str) -> list[Path]:
        root = self.scanned / str(kind) / category
        return sorted(p for p in root.glob("mp4_w*_h*/*.mp4") if not is_ignored_name(p.name))

    def scanned_music_files(self, category: str) -> list[Path]:
        root = self.scanned / AssetKind.MUSIC / category / "mp3"
        return sorted(p for p in root.glob("*.mp3") if not is_ignored_name(p.name))

    @staticmethod
    def size_from_scanned_name(path: Path | str) -> tuple[int, int] | None:
        """The picture size (as shown) of a scanned clip, from its `mp4_w<W>_h<H>` folder."""
        found = _SCANNED_SIZE_RE.fullmatch(Path(path).parent.name)
        return (int(found.group(1)), int(found.group(2))) if found else None

    @staticmethod
    def duration_from_scanned_name(path: Path) -> float | None:
        """The `<duration>_` prefix of a scanned clip or music file, in seconds."""
        head, sep, _ = Path(path).name.partition("_")
        try:
            return float(head) if sep else None
        except ValueError:
            return None

    # -- tasks ---------------------------------------------------------------
    def state_dir(self, state: TaskState) -> Path:
        return {
            TaskState.QUEUED: self.tasks,
            TaskState.PROCESSING: self.processing,
            TaskState.DONE: self.output,
            TaskState.FAILED: self.failed,
        }[state]

    def task_dir(self, task_id: str, state: TaskState = TaskState.QUEUED) -> Path:
        return self.state_dir(state) / task_id

    def output_file(self, task_id: str) -> Path:
        return self.output / task_id / FINAL_NAME

    def task_ids(self, state: TaskState) -> list[str]:
        return list_task_ids(self.state_dir(state))

    def find_task(self, task_id: str) -> tuple[TaskState, Path] | None:
        """Which state folder holds a task, if any."""
        if not TASK_ID_RE.match(task_id):
            return None
        for state in TaskState:
            path = self.task_dir(task_id, state)
            if path.is_dir():
                return state, path
        return None

    @staticmethod
    def video_part_name(number: int) -> str:
        return f"video_{number:04d}.mp4"

    @staticmethod
    def part_name(index: int) -> str:
        """A finished segment's file in its render task's folder (index from 0)."""
        return f"part_{index + 1:04d}.mp4"


def _subfolders(folder: str) -> list[str]:
    """The visible folders in `folder` (from the listing's entry types; none when absent)."""
    try:
        with os.scandir(folder) as entries:
            return [e.path for e in entries if not e.name.startswith(".") and e.is_dir()]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _names(folder: Path) -> list[str]:
    """The names in `folder`; none when it is absent."""
    try:
        return os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []


def list_task_ids(folder: Path) -> list[str]:
    """Layout.task_ids for one state folder, sorted, without a stat per entry: the folder's
    own entry types answer is_dir for everything but symlinks."""
    try:
        with os.scandir(folder) as entries:
            return sorted(e.name for e in entries if TASK_ID_RE.match(e.name) and e.is_dir())
    except (FileNotFoundError, NotADirectoryError):
        return []
