"""Why a chapter has no task yet: the planner's Waiting records, one per chapter, each pass."""

from __future__ import annotations

from plan_helpers import scanned_clip, scanned_music, scanned_voice, set_settings

from storyreel.plan import Planner
from storyreel.waiting import Waiting, WaitReason, chapter_label

CHAPTER = "scanned/story/fantasy/dragon/voice/chapter_0001.mp3"


def test_a_chapter_without_music_or_clips_waits_and_says_where_it_looked(project, media):
    scanned_voice(project, media)
    planner = Planner(project)
    assert planner.plan_pending() == []
    assert planner.waiting == [Waiting(CHAPTER, WaitReason.NO_MUSIC_OR_CLIPS,
                                       "no music and video clips in category fantasy (nor default)")]
    scanned_clip(project, media, "default", "c1", seconds=5.0)
    planner.plan_pending()
    assert planner.waiting == [Waiting(CHAPTER, WaitReason.NO_MUSIC, "no music in category fantasy (nor default)")]
    scanned_music(project, media, "fantasy", "m1")
    assert len(planner.plan_pending()) == 1
    assert planner.waiting == []
    assert planner.plan_pending() == [] and planner.waiting == []  # planned: it waits no more


def test_missing_clips_and_a_missing_logo_are_reasons_too(project, media):
    scanned_voice(project, media)
    scanned_voice(project, media, story="sea", chapter="chapter_0012.mp3")
    scanned_music(project, media, "fantasy", "m1")
    planner = Planner(project)
    planner.plan_pending()
    assert [w.reason for w in planner.waiting] == [WaitReason.NO_CLIPS, WaitReason.NO_CLIPS]
    assert planner.waiting[1].detail == "no video clips in category fantasy (nor default)"
    scanned_clip(project, media, "fantasy", "c1", seconds=5.0)
    planner = Planner(set_settings(project, render={"logo": "brand/missing.png"}))
    planner.plan_pending()
    assert {w.reason for w in planner.waiting} == {WaitReason.LOGO_MISSING}
    assert planner.waiting[0].detail == "the logo brand/missing.png (render.logo) does not exist"


def test_disk_below_the_floor_is_a_reason_for_every_unplanned_chapter(project, media):
    scanned_voice(project, media)
    scanned_clip(project, media, "fantasy", "c1", seconds=5.0)
    scanned_music(project, media, "fantasy", "m1")
    project.settings.disk.floor_gb = 1_000_000.0
    planner = Planner(project)
    assert planner.plan_pending() == []
    (waiting,) = planner.waiting
    assert waiting.reason is WaitReason.DISK_LOW and "below the 1000000.0 GB floor" in waiting.detail


def test_a_chapter_is_named_by_story_and_number(project):
    layout = project.layout
    assert chapter_label(layout, "scanned/story/fantasy/dragon_flight/voice/chapter_0003.mp3") == (
        "fantasy/dragon_flight chapter 3")
    assert chapter_label(layout, "somewhere/else.mp3") == "somewhere/else.mp3"
