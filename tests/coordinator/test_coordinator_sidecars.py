"""A captioned render's sidecars (captions.srt, captions.vtt, words.json) over real HTTP:
fenced like the video, checked, and published with it in one rename."""

from __future__ import annotations

import hashlib
import json

import test_coordinator_uploads as uploads
from coordkit import Served, leftovers

from storyreel.layout import TaskState
from storyreel.protocol import SHA256_HEADER, SIZE_HEADER

SRT = "1\n00:00:00,100 --> 00:00:02,900\nThe keeper walked home.\n"
VTT = "WEBVTT\n\n00:00:00.100 --> 00:00:02.900\nThe keeper walked home.\n"
WORDS = json.dumps({"duration": 3.0, "words": [{"word": "The", "start": 0.1, "end": 0.3}],
                    "quality": {"words": 1, "aligned": 1, "unspoken": 0, "confidence": 1.0}})
SIDECARS = {"captions.srt": SRT, "captions.vtt": VTT, "words.json": WORDS}
served = uploads.served  # a coordinator served over real HTTP, as for the video's uploads


def _put(farm: Served, task_id: str, attempt: int, name: str, text: str, *, sha256: str | None = None):
    body = text.encode()
    return farm.http.put(f"/tasks/{task_id}/sidecars/{name}", params={"node": farm.node, "attempt": attempt},
                         headers={SHA256_HEADER: sha256 or hashlib.sha256(body).hexdigest(),
                                  SIZE_HEADER: str(len(body))}, content=body)


def test_sidecars_are_fenced_named_and_checked(served) -> None:
    project, farm = served
    task_id, attempt = farm.claim()
    assert _put(farm, task_id, attempt + 1, "captions.srt", SRT).status_code == 409
    assert _put(farm, task_id, attempt, "notes.txt", SRT).status_code == 404
    assert _put(farm, task_id, attempt, "captions.srt", SRT, sha256="0" * 64).status_code == 422
    broken = _put(farm, task_id, attempt, "words.json", "{not json")
    assert broken.status_code == 422 and "does not parse" in broken.json()["detail"]
    assert leftovers(project, task_id) == []
    for name, text in SIDECARS.items():
        assert _put(farm, task_id, attempt, name, text).status_code == 204, name
    assert leftovers(project, task_id) == sorted(f".sidecar-{attempt}-{n}" for n in SIDECARS)


def test_a_captioned_video_is_published_only_with_its_sidecars(served, media) -> None:
    project, farm = served
    task_id, attempt = farm.claim()
    folder = project.layout.task_dir(task_id, TaskState.PROCESSING)
    meta = json.loads((folder / "metadata.json").read_text())
    (folder / "metadata.json").write_text(json.dumps({**meta, "captions": {"font": "DejaVu Sans"}}))
    video = media.clip(width=160, height=90, seconds=3.0).read_bytes()
    sha = hashlib.sha256(video).hexdigest()
    refused = farm.put(task_id, attempt, video, size=len(video), sha256=sha)
    assert refused.status_code == 422 and "without its captions" in refused.json()["detail"]
    for name, text in SIDECARS.items():
        assert _put(farm, task_id, attempt, name, text).status_code == 204
    assert farm.put(task_id, attempt, video, size=len(video), sha256=sha).status_code == 201
    out = project.layout.task_dir(task_id, TaskState.DONE)
    assert {p.name: p.read_text() for p in out.iterdir() if p.name in SIDECARS} == SIDECARS
    assert json.loads((out / "metadata.json").read_text())["captions_quality"]["aligned"] == 1
