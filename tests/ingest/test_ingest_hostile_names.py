"""Names a hostile share writes: bytes that are not UTF-8, and names up to 255 bytes of
1-, 2-, 3- and 4-byte characters. Each ends in scanned/ or trash/invalid/ with a reason
file, and the main worker keeps going."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from ingest_helpers import drop, files_under, ingest_all, log_messages, reason_of

from storyreel.layout import MAX_NAME_BYTES, NAME_MAX, REASON_SUFFIX
from storyreel.project import Project

STORYREEL = [sys.executable, "-m", "storyreel.cli"]
# Upper bound for one `main --once` over a tiny drop; typical runs take a few seconds.
RUN_LIMIT = 240.0
# One character of each UTF-8 width: 1, 2, 3 and 4 bytes.
WIDE = {1: "a", 2: "é", 3: "€", 4: "😀"}


def _raw_bytes(project: Project, rel: bytes) -> bytes:
    return os.fsencode(project.layout.raw) + b"/" + rel


def _drop_bytes(project: Project, rel: bytes, data: bytes) -> None:
    """Write raw/<rel> under a name given as bytes, as an old SMB/NFS client would."""
    path = _raw_bytes(project, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)


def _main_once(project: Project) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*STORYREEL, "main", str(project.layout.root), "--once"], capture_output=True,
        timeout=RUN_LIMIT, stdin=subprocess.DEVNULL,
    )


def _name_of(width: int, total_bytes: int, suffix: str = ".mp4") -> str:
    """A name of `width`-byte characters with `suffix`, as long as fits in `total_bytes`."""
    count = (total_bytes - len(suffix)) // width
    return WIDE[width] * count + suffix


def test_names_that_are_not_utf8_go_to_trash_and_the_worker_goes_on(project, media):
    clip = media.clip(seconds=1.0).read_bytes()
    _drop_bytes(project, b"video/action/bad\xffname.mp4", clip)
    _drop_bytes(project, b"video/\xfe\xfe/inside.mp4", clip)
    _drop_bytes(project, b"music/calm/caf\xe9.mp3", media.tone(seconds=6.0).read_bytes())
    drop(project, "video/action/good.mp4", media.clip(seconds=1.0))
    done = _main_once(project)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-3000:]
    assert files_under(project.layout.raw) == []
    assert (project.layout.scanned / "video/action/mp4_w160_h90/1.0_good.mp4").is_file()
    invalid = project.layout.invalid
    expected = {
        "raw/video/action/bad\\xffname.mp4": invalid / "video/action/bad%FFname.mp4",
        "raw/video/\\xfe\\xfe/inside.mp4": invalid / "video/%FE%FE/inside.mp4",
        "raw/music/calm/caf\\xe9.mp3": invalid / "music/calm/caf%E9.mp3",
    }
    warns = log_messages(project, "WARN")  # every line is UTF-8 and parses
    for shown, trashed in expected.items():
        assert trashed.read_bytes() in (clip, media.tone(seconds=6.0).read_bytes())
        reason = reason_of(trashed)  # the reason file's name and text are plain UTF-8
        assert reason["file"] == shown
        assert "not valid UTF-8" in reason["reason"]
        dest = trashed.relative_to(project.layout.root)
        assert any(m.startswith(f"Rejected {shown} → {dest}: unsafe name '") for m in warns), warns
    assert "name 'bad\\xffname.mp4': name is not valid UTF-8" in reason_of(
        invalid / "video/action/bad%FFname.mp4")["reason"]
    for line in project.layout.events_file.read_text(encoding="utf-8").splitlines():
        json.loads(line)
    again = _main_once(project)  # a restart finds nothing left to trip over
    assert again.returncode == 0
    assert log_messages(project, "ERROR") == []


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_longest_accepted_name_is_filed_in_bytes_not_characters(project, media, width):
    name = _name_of(width, MAX_NAME_BYTES)
    over = _name_of(width, MAX_NAME_BYTES + width + 1)
    assert len(os.fsencode(name)) <= MAX_NAME_BYTES < len(os.fsencode(over))
    drop(project, f"video/action/{name}", media.clip(seconds=1.0))
    drop(project, f"video/action/{over}", media.clip(seconds=1.0))
    drop(project, f"music/calm/{_name_of(width, MAX_NAME_BYTES, '.mp3')}", media.tone(seconds=6.0))
    ingest_all(project)
    assert files_under(project.layout.raw) == []
    assert (project.layout.scanned / f"video/action/mp4_w160_h90/1.0_{name}").is_file()
    music = project.layout.scanned / f"music/calm/mp3/6.0_{_name_of(width, MAX_NAME_BYTES, '.mp3')}"
    assert music.is_file()
    assert f"longer than {MAX_NAME_BYTES} bytes" in reason_of(project.layout.invalid / "video/action" / over)["reason"]


@pytest.mark.parametrize("width", [1, 2, 3, 4])
@pytest.mark.parametrize("total", [240, 243, 250, NAME_MAX])
def test_long_names_up_to_255_bytes_are_trashed_with_a_reason(project, media, width, total):
    """Among them the issue's case: a 240-byte name of 4-byte characters."""
    name = _name_of(width, total)
    drop(project, f"video/action/{name}", media.clip(seconds=1.0))
    ingest_all(project)
    assert files_under(project.layout.raw) == []
    trashed = [p for p in files_under(project.layout.invalid) if not p.name.endswith(REASON_SUFFIX)]
    assert len(trashed) == 1
    (home,) = trashed
    assert len(os.fsencode(home.name + REASON_SUFFIX)) <= NAME_MAX
    reason = reason_of(home)
    assert reason["file"] == f"raw/video/action/{name}"
    assert "longer than" in reason["reason"]
    assert home.suffix == ".mp4"


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_two_255_byte_names_sharing_a_prefix_both_reach_the_trash(project, media, width):
    stem = WIDE[width] * ((NAME_MAX - 5) // width)
    names = [stem + tail + ".mp4" for tail in "xy"]
    assert all(len(os.fsencode(n)) <= NAME_MAX for n in names)
    for name in names:
        drop(project, f"video/action/{name}", media.clip(seconds=1.0))
    ingest_all(project)
    assert files_under(project.layout.raw) == []
    trashed = [p for p in files_under(project.layout.invalid) if not p.name.endswith(REASON_SUFFIX)]
    assert len(trashed) == 2
    assert sorted(reason_of(p)["file"] for p in trashed) == sorted(f"raw/video/action/{n}" for n in names)


def test_the_same_255_byte_name_twice_gets_a_numbered_twin(project, media):
    name = _name_of(4, NAME_MAX)
    for _ in range(3):
        drop(project, f"video/action/{name}", media.clip(seconds=1.0))
        ingest_all(project)
    trashed = [p for p in files_under(project.layout.invalid) if not p.name.endswith(REASON_SUFFIX)]
    assert len(trashed) == 3
    assert len({p.name for p in trashed}) == 3
    for home in trashed:
        assert len(os.fsencode(home.name + REASON_SUFFIX)) <= NAME_MAX
        assert reason_of(home)["file"] == f"raw/video/action/{name}"


def test_long_folder_and_file_names_not_utf8_fit_in_the_trash(project, media):
    """Escaping one byte as %XX triples it: a 255-byte name of such bytes is shortened too."""
    folder, name = b"\xff" * NAME_MAX, b"\xfe" * (NAME_MAX - 4) + b".mp4"
    _drop_bytes(project, b"video/" + folder + b"/" + name, media.clip(seconds=1.0).read_bytes())
    ingest_all(project)
    assert files_under(project.layout.raw) == []
    (home,) = [p for p in files_under(project.layout.invalid) if not p.name.endswith(REASON_SUFFIX)]
    assert all(len(os.fsencode(part)) <= NAME_MAX for part in home.parts)
    assert reason_of(home)["file"] == "raw/video/" + "\\xff" * NAME_MAX + "/" + "\\xfe" * (NAME_MAX - 4) + ".mp4"



def test_run_until_idle_exits_once_a_240_byte_name_of_4_byte_characters_is_trashed(project, media):
    name = _name_of(4, 240)
    drop(project, f"video/action/{name}", media.clip(seconds=1.0))
    done = subprocess.run(
        [*STORYREEL, "run", str(project.layout.root), "--until-idle"], capture_output=True,
        timeout=RUN_LIMIT, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")[-3000:]
    assert files_under(project.layout.raw) == []
    (home,) = [p for p in files_under(project.layout.invalid) if not p.name.endswith(REASON_SUFFIX)]
    assert reason_of(home)["file"] == f"raw/video/action/{name}"
