"""Profiles: one task per chapter and profile of its category, never a second one for the
same chapter and profile; each rendered to its own output/<id>/final.mp4 at its own size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from plan_helpers import scanned_clip, scanned_music, scanned_voice, set_settings

from storyreel import config, lifecycle
from storyreel.layout import METADATA_NAME, TaskState
from storyreel.media.probe import probe
from storyreel.plan import Planner
from storyreel.project import Project
from storyreel.render.preflight import check_settings
from storyreel.taskmeta import read
from storyreel.waiting import WaitReason

README = Path(__file__).resolve().parents[2] / "README.md"

PROFILES = """
[profiles.shorts.render]
resolution = "90x160"
frame_rate = 24

[profiles.shorts.captions]
style = "words"

[categories.fantasy]
profiles = ["main", "shorts"]
"""


def add_tables(project: Project, extra: str) -> None:
    """Tiny fast renders, and `extra` ([profiles.*], [categories.*] tables) in storyreel.toml."""
    project = set_settings(project, render={"resolution": "160x90", "preset": "ultrafast", "encoder": "libx264"})
    cfg = project.layout.config_file
    cfg.write_text(cfg.read_text() + extra)


def with_profiles(project: Project, extra: str = PROFILES) -> Project:
    add_tables(project, extra)
    return Project.open(project.layout.root)


def stock(project: Project, media, *categories: str) -> None:
    """A chapter, two clips and a track in each category."""
    for category in categories:
        scanned_voice(project, media, category)
        for stem in ("c1", "c2"):
            scanned_clip(project, media, category, stem, seconds=1.0)
        scanned_music(project, media, category, "m1")


def metas(project: Project) -> list:
    return [read(project.layout.task_dir(t)) for t in project.layout.task_ids(TaskState.QUEUED)]


def test_a_category_with_two_profiles_gets_a_task_in_each_and_the_others_one(project, media) -> None:
    project = with_profiles(project)
    stock(project, media, "fantasy", "scifi")
    planner = Planner(project)
    created = planner.plan_pending()
    assert len(created) == 3 and planner.waiting == []
    by_key = {(m.category, m.profile): m for m in metas(project)}
    assert sorted(by_key) == [("fantasy", "main"), ("fantasy", "shorts"), ("scifi", "main")]
    main, short = by_key["fantasy", "main"], by_key["fantasy", "shorts"]
    assert (main.render.resolution, main.render.frame_rate) == ("160x90", 30)
    assert (short.render.resolution, short.render.frame_rate) == ("90x160", 24)
    assert short.render.preset == "ultrafast"  # what a profile does not set comes from [render]
    assert main.chapter == short.chapter
    assert (main.music_source, main.video_sources) == (short.music_source, short.video_sources)
    assert by_key["scifi", "main"].render.resolution == "160x90"
    log = project.layout.log_file.read_text()
    assert f"for {short.chapter}, profile shorts:" in log and f"for {main.chapter}, profile main:" in log

    assert planner.plan_pending() == []  # a second pass makes no further task
    assert Planner(project).plan_pending() == []  # nor does a restarted main worker
    index = lifecycle.ChapterIndex(project.layout).tasks()
    assert index[lifecycle.TaskKey(short.chapter, "shorts")] == short.task_id
    assert lifecycle.has_task_for(project.layout, main.chapter) == main.task_id


def test_a_task_made_before_profiles_existed_counts_as_main(project, media) -> None:
    project = set_settings(project, render={"resolution": "160x90"})
    stock(project, media, "fantasy")
    (old,) = Planner(project).plan_pending()
    path = project.layout.task_dir(old) / METADATA_NAME
    data = json.loads(path.read_text())
    del data["profile"]
    path.write_text(json.dumps(data))

    project = with_profiles(project)
    (new,) = Planner(project).plan_pending()
    assert read(project.layout.task_dir(new)).profile == "shorts"
    assert read(project.layout.task_dir(old)).profile == "main"


def test_a_failed_task_let_planned_again_is_replanned_in_its_own_profile(project, media) -> None:
    project = with_profiles(project)
    stock(project, media, "fantasy")
    planner = Planner(project)
    planner.plan_pending()
    short = next(m for m in metas(project) if m.profile == "shorts")
    main = next(m for m in metas(project) if m.profile == "main")
    lifecycle.fail(project.layout, main.task_id, "render failed", replan=False)
    lifecycle.fail(project.layout, short.task_id, "render failed: a clip", replan=True)

    (again,) = planner.plan_pending()
    meta = read(project.layout.task_dir(again))
    assert (meta.chapter, meta.profile) == (short.chapter, "shorts")
    assert planner.plan_pending() == [] and Planner(project).plan_pending() == []


def test_a_profile_that_cannot_be_built_keeps_the_chapter_waiting_while_main_is_planned(project, media) -> None:
    project = with_profiles(project, PROFILES.replace('frame_rate = 24', 'frame_rate = 24\nlogo = "brand/short.png"'))
    stock(project, media, "fantasy")
    planner = Planner(project)
    (made,) = planner.plan_pending()
    assert read(project.layout.task_dir(made)).profile == "main"
    (waiting,) = planner.waiting
    assert waiting.reason == WaitReason.LOGO_MISSING
    assert waiting.detail == "the logo brand/short.png (profiles.shorts.render.logo) does not exist"

    media.copy(media.logo(), project.layout.root / "brand" / "short.png")
    (short,) = planner.plan_pending()
    meta = read(project.layout.task_dir(short))
    assert meta.profile == "shorts" and meta.render.logo == "logo.png"
    assert planner.waiting == [] and planner.plan_pending() == []


def storyreel(project: Project, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(project.layout.root.parent / "cache")}
    return subprocess.run([sys.executable, "-m", "storyreel.cli", *args, str(project.layout.root)],
                          capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("extra", "needles"), [
    ('[profiles.shorts.render]\nresolutoin = "1080x1920"\n',
     ["[profiles.shorts.render] resolutoin", "is not a setting: did you mean resolution?"]),
    ('[profiles.shorts.captions]\nstlye = "words"\n', ["[profiles.shorts.captions] stlye", "did you mean style?"]),
    ('[profiles.shorts]\nresolution = "1080x1920"\n',
     ["[profiles.shorts] resolution", "did you mean [profiles.shorts.render] resolution?"]),
    ('[profiles.shorts.render]\nresolution = "1081x1920"\n',
     ['[profiles.shorts.render] resolution = "1081x1920"', "even"]),
    ('[profiles.shorts.render]\npreset = "ludicrous"\n',
     ["[profiles.shorts.render] preset = 'ludicrous'", "expected one of ultrafast"]),
    ('[profiles.shorts.render]\nframe_rate = 24\n[categories.fantasy]\nprofiles = ["main", "shortz"]\n',
     ['[categories.fantasy] profiles = ["main", "shortz"]: no profile shortz: did you mean shorts?']),
    ('[categories.fantasy]\nprofile = ["main"]\n', ["[categories.fantasy] profile", "did you mean profiles?"]),
])
def test_a_bad_profile_setting_stops_the_start_with_one_message(project, extra: str, needles: list[str]) -> None:
    add_tables(project, "\n" + extra)
    done = storyreel(project, "main", "--once")
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip()
    assert "Traceback" not in message and len(message.splitlines()) == 1
    assert message.startswith(f"storyreel: bad setting in {project.layout.config_file}: ")
    for needle in needles:
        assert needle in message


@pytest.mark.slow
def test_each_profile_is_rendered_to_its_own_output_at_its_own_size(project, media) -> None:
    project = with_profiles(project)
    stock(project, media, "fantasy", "scifi")
    done = storyreel(project, "run", "--until-idle")
    assert done.returncode == 0, done.stderr[-3000:]

    layout = project.layout
    sizes = []
    for task_id in layout.task_ids(TaskState.DONE):
        final = layout.output_file(task_id)
        meta = json.loads((final.parent / METADATA_NAME).read_text())
        video = probe(final).first_video
        sizes.append((meta["category"], meta["profile"], f"{video.width}x{video.height}", round(video.fps)))
    assert sorted(sizes) == [("fantasy", "main", "160x90", 30), ("fantasy", "shorts", "90x160", 24),
                             ("scifi", "main", "160x90", 30)]
    assert layout.task_ids(TaskState.FAILED) == [] and layout.task_ids(TaskState.QUEUED) == []


def test_the_readme_profiles_example_is_a_valid_file(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Profiles"):]
    example = section[section.index("```toml\n") + 8:section.index("```\n", section.index("```toml\n") + 8)]
    path = tmp_path / "storyreel.toml"
    path.write_text(example)
    settings = config.load(path)
    assert settings.profiles_for("fantasy") == ["main", "shorts"] and settings.profiles_for("scifi") == ["main"]
    assert settings.profile("main").render.resolution == "1920x1080"
    assert settings.profile("shorts").render.resolution == "1080x1920"
    assert settings.profile("shorts").captions.style == "words"


def test_run_encoder_option_reaches_the_profiles_that_keep_the_file_encoder(tmp_path: Path) -> None:
    path = tmp_path / "storyreel.toml"
    path.write_text('[render]\nencoder = "h265_turbo"\n[profiles.shorts.render]\nresolution = "1080x1920"\n'
                    '[profiles.fast.render]\nencoder = "libx264"\npreset = "ultrafast"\n')
    settings = config.load(path)
    check_settings(settings, path, tmp_path, encoder="libx264")
    assert [settings.profile(p).render.encoder for p in ("main", "shorts", "fast")] == ["libx264"] * 3
    assert settings.profile("shorts").render.resolution == "1080x1920"
