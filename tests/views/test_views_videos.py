"""Finished videos over real HTTP: the whole file, byte ranges for seeking, downloads named
after the chapter, nothing outside output/<id>/, and the dashboard's access rule."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from viewskit import every_state
from web.webkit import StandInCoordinator, serve

from storyreel.layout import TaskState
from storyreel.web import mount


@pytest.fixture()
def farm(tmp_path: Path, media):
    project, ids = every_state(tmp_path / "root", media)
    return project, ids


def _app(project, bound_host: str) -> FastAPI:
    app = FastAPI()
    mount(app, StandInCoordinator(project), bound_host=bound_host)
    return app


def test_video_whole_ranges_and_download(farm):
    project, ids = farm
    done = ids["story3"]
    data = project.layout.output_file(done).read_bytes()
    with serve(_app(project, "127.0.0.1")) as base, httpx.Client(base_url=base, timeout=20) as http:
        url = f"/dashboard/videos/{done}/final.mp4"
        whole = http.get(url)
        assert whole.status_code == 200
        assert whole.content == data
        assert whole.headers["content-type"] == "video/mp4"
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["content-disposition"].startswith("inline")

        part = http.get(url, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
        assert part.content == data[100:200]
        tail = http.get(url, headers={"Range": "bytes=-50"})
        assert tail.status_code == 206 and tail.content == data[-50:]

        past = http.get(url, headers={"Range": f"bytes={len(data) + 10}-"})
        assert past.status_code == 416
        assert past.headers["content-range"] == f"bytes */{len(data)}"

        saved = http.get(url, params={"download": "1"})
        assert saved.status_code == 200 and saved.content == data
        assert saved.headers["content-disposition"] == 'attachment; filename="story3-chapter1.mp4"'
        assert http.head(url).headers["content-length"] == str(len(data))


def test_only_published_outputs_are_served(farm, tmp_path: Path):
    project, ids = farm
    layout = project.layout
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"not for the dashboard")
    linked = layout.output / ids["story1"]  # an output folder whose video points outside
    linked.mkdir()
    os.symlink(secret, linked / "final.mp4")
    failed = ids["story4"]
    with serve(_app(project, "127.0.0.1")) as base, httpx.Client(base_url=base, timeout=20) as http:
        for path in (
            f"/dashboard/videos/{ids['story3']}/metadata.json",  # not a video or a sidecar
            f"/dashboard/videos/{failed}/final.mp4",  # no such output
            f"/dashboard/videos/{ids['story1']}/final.mp4",  # a link out of output/<id>/
            f"/dashboard/videos/{ids['story3']}/captions.srt",  # a sidecar this task has not
            "/dashboard/videos/not-a-task/final.mp4",
            "/dashboard/videos/..%2F..%2Fstoryreel.toml/final.mp4",
            f"/dashboard/videos/{ids['story3']}/..%2F..%2F..%2Fstoryreel.toml",
            f"/dashboard/videos/{ids['story3']}/%2E%2E%2Fmetadata.json",
        ):
            assert http.get(path).status_code == 404, path
        raw = httpx.Request("GET", base + "/dashboard/videos/x/y")
        raw.url = raw.url.copy_with(raw_path=b"/dashboard/videos/../../storyreel.toml")
        assert http.send(raw).status_code == 404
    assert layout.task_dir(failed, TaskState.FAILED).is_dir()


def test_videos_need_the_token_beyond_loopback(farm):
    project, ids = farm
    url = f"/dashboard/videos/{ids['story3']}/final.mp4"
    with serve(_app(project, "0.0.0.0")) as base, httpx.Client(base_url=base, timeout=20) as http:
        assert http.get(url).status_code == 401
        page = http.get(url, headers={"Accept": "text/html,*/*"})
        assert page.status_code == 303 and page.headers["location"] == "/dashboard/login"
        assert http.get(url, headers={"Range": "bytes=0-9"}).status_code == 401
        allowed = http.get(url, headers={"Authorization": f"Bearer {project.token}", "Range": "bytes=0-9"})
        assert allowed.status_code == 206 and len(allowed.content) == 10
