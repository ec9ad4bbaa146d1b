from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from storyreel import fsops
from storyreel.errors import FilesystemError
from storyreel.layout import TEMP_PREFIX, Layout


def test_move_refuses_to_overwrite(tmp_path: Path):
    src, dst = tmp_path / "a.mp4", tmp_path / "out" / "a.mp4"
    src.write_bytes(b"new")
    dst.parent.mkdir()
    dst.write_bytes(b"old")
    with pytest.raises(FilesystemError) as err:
        fsops.move(src, dst)
    assert "cannot move" in str(err.value) and "already exists" in str(err.value)
    assert src.read_bytes() == b"new" and dst.read_bytes() == b"old"


def test_move_across_filesystems_copies_whole_then_removes(tmp_path: Path, monkeypatch):
    src, dst = tmp_path / "a.bin", tmp_path / "deep" / "b.bin"
    payload = os.urandom(3 << 20)
    src.write_bytes(payload)
    real_replace = os.replace

    def cross_device_once(a, b):
        if Path(a) == src:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_replace(a, b)

    monkeypatch.setattr(fsops.os, "replace", cross_device_once)
    fsops.move(src, dst)
    assert dst.read_bytes() == payload
    assert not src.exists()
    assert not [p for p in dst.parent.iterdir() if p.name.startswith(TEMP_PREFIX)]


def test_disk_full_reads_as_a_sentence(tmp_path: Path, monkeypatch):
    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fsops.os, "replace", full)
    with pytest.raises(FilesystemError) as err:
        fsops.write_atomic(tmp_path / "x.json", "{}")
    assert str(err.value) == f"cannot write {tmp_path / 'x.json'}: disk full"
    assert list(tmp_path.iterdir()) == []


def test_journal_finishes_an_interrupted_replacement(tmp_path: Path):
    layout = Layout(tmp_path)
    original = layout.raw / "music/calm/song.mp3"
    original.parent.mkdir(parents=True)
    original.write_bytes(b"loud")
    dst = layout.scanned_music("calm", 10.0, "song")
    dst.parent.mkdir(parents=True)
    # Simulate a kill after the new file went into place but before the original went.
    journal = fsops.Journal(layout)
    fsops.write_json(journal.folder / "x.json", {"original": str(original), "dst": str(dst)})
    dst.write_bytes(b"normalised")
    assert journal.recover() == [original]
    assert not original.exists() and dst.read_bytes() == b"normalised"
    assert list(journal.folder.iterdir()) == []


def test_journal_keeps_the_original_when_the_new_file_never_arrived(tmp_path: Path):
    layout = Layout(tmp_path)
    original = tmp_path / "raw" / "song.mp3"
    original.parent.mkdir(parents=True)
    original.write_bytes(b"loud")
    journal = fsops.Journal(layout)
    fsops.write_json(journal.folder / "x.json", {"original": str(original), "dst": str(tmp_path / "none")})
    assert journal.recover() == []
    assert original.read_bytes() == b"loud"


def test_sweep_removes_only_temp_names(tmp_path: Path):
    layout = Layout(tmp_path)
    keep = layout.scanned / "video" / "a" / "mp4_w1_h1" / "1.0_x.mp4"
    keep.parent.mkdir(parents=True)
    keep.write_bytes(b"x")
    stray = keep.parent / f"{TEMP_PREFIX}abc-1.0_y.mp4"
    stray.write_bytes(b"half")
    stray_dir = layout.tasks / f"{TEMP_PREFIX}task"
    stray_dir.mkdir(parents=True)
    operator_hidden = layout.raw / "video" / "a" / f"{TEMP_PREFIX}mine.mp4"
    operator_hidden.parent.mkdir(parents=True)
    operator_hidden.write_bytes(b"x")
    removed = fsops.sweep(layout)
    assert set(removed) == {stray, stray_dir}
    assert keep.exists() and operator_hidden.exists()


@pytest.mark.parametrize("char", ["a", "é", "€", "😀"])
def test_temp_names_stay_within_255_bytes(tmp_path: Path, char: str):
    final = char * (255 // len(char.encode()))
    assert len(os.fsencode(final)) <= 255
    tmp = fsops.temp_path(tmp_path, final)
    assert tmp.name.startswith(TEMP_PREFIX) and len(os.fsencode(tmp.name)) <= 255
    assert fsops.temp_path(tmp_path, final) != tmp
    fsops.write_atomic(tmp_path / final, "whole")  # its temp name can be created
    assert (tmp_path / final).read_text() == "whole"
    assert [p.name for p in tmp_path.iterdir()] == [final]


def test_text_with_a_name_that_is_not_utf8_is_written_escaped(tmp_path: Path):
    fsops.write_json(tmp_path / "r.json", {"file": os.fsdecode(b"bad\xff.mp4")})
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == '{\n  "file": "bad\\udcff.mp4"\n}\n'


# Builds a task-like folder in a child process and kills itself (SIGKILL) at the named
# step: what a kill at that step leaves on disk.
KILLED_BUILD = """
import os, signal, sys
from pathlib import Path
from storyreel import fsops
final, step = Path(sys.argv[1]), sys.argv[2]
with fsops.NewFolder(final) as folder:
    folder.symlink("voice.mp3", final.parent.parent / "voice.mp3")
    folder.write("video_list.txt", "ffconcat version 1.0\\n")
    if step == "writing":
        os.kill(os.getpid(), signal.SIGKILL)
    folder.write("metadata.json", '{"task_id": "t"}\\n')
    if step == "before-publish":
        os.kill(os.getpid(), signal.SIGKILL)
    folder.publish()
"""


@pytest.mark.parametrize("step", ["writing", "before-publish", "never"])
def test_a_new_folder_killed_while_built_is_swept_and_a_published_one_is_whole(tmp_path: Path, step: str):
    import subprocess
    import sys

    layout = Layout(tmp_path)
    (tmp_path / "voice.mp3").write_bytes(b"ID3")
    final = layout.tasks / "t"
    layout.tasks.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-c", KILLED_BUILD, str(final), step], capture_output=True, text=True)
    leftovers = [p for p in layout.tasks.iterdir() if p.name.startswith(TEMP_PREFIX)]
    if step == "never":
        assert done.returncode == 0, done.stderr
        assert not leftovers
        assert sorted(p.name for p in final.iterdir()) == ["metadata.json", "video_list.txt", "voice.mp3"]
        assert (final / "metadata.json").read_text() == '{"task_id": "t"}\n'
        assert (final / "voice.mp3").read_bytes() == b"ID3"  # the link is relative to the final place
        return
    assert done.returncode == -9
    assert not final.exists() and len(leftovers) == 1
    assert fsops.sweep(layout) == leftovers
    assert list(layout.tasks.iterdir()) == []


def test_a_new_folder_that_fails_leaves_nothing_and_never_replaces_a_folder(tmp_path: Path):
    final = tmp_path / "tasks" / "t"
    with pytest.raises(ValueError), fsops.NewFolder(final) as folder:
        folder.write("metadata.json", "{}")
        raise ValueError("metadata cannot be built")
    assert list((tmp_path / "tasks").iterdir()) == []
    final.mkdir(parents=True)
    with pytest.raises(FilesystemError, match="already exists"), fsops.NewFolder(final) as folder:
        folder.copy("logo.png", Path(__file__))
        folder.publish()
    assert list(final.parent.iterdir()) == [final] and list(final.iterdir()) == []


def test_a_new_folder_on_a_full_disk_says_so_and_leaves_nothing(tmp_path: Path):
    from diskkit import small_disk_at

    with small_disk_at(tmp_path / "disk", "256k") as disk:
        final = disk.root / "tasks" / "t"
        disk.fill()
        with pytest.raises(FilesystemError) as err, fsops.NewFolder(final) as folder:
            folder.write("metadata.json", "x" * 65536)
        assert str(err.value).startswith("cannot write ") and str(err.value).endswith(": disk full")
        assert not final.exists() and list(final.parent.iterdir()) == []
        disk.free()
        source = tmp_path / "logo.png"
        source.write_bytes(b"\x89PNG" * 30000)
        disk.fill(leave=8192)
        with pytest.raises(FilesystemError, match=r"^cannot copy .*logo\.png → .*: disk full$"), \
                fsops.NewFolder(final) as folder:
            folder.copy("logo.png", source)
        assert list(final.parent.iterdir()) == []
