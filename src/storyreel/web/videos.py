"""The finished videos, played in the browser and downloaded.

    GET /dashboard/videos/{task}/final.mp4             the video, inline (HTTP Range for seeking)
    GET /dashboard/videos/{task}/final.mp4?download=1  the same as a download, story-chapter.mp4
    GET /dashboard/videos/{task}/{sidecar}             captions.srt, captions.vtt, words.json …

Only output/<task id>/final.mp4 and its published sidecars are ever served: anything else,
a name outside that list, a malformed id, a path that leaves output/<id>/, is 404. The
access rule is the rest of the dashboard's (auth.py). Everything here reads.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

from storyreel.farmstate.tasks import name_of
from storyreel.layout import FINAL_NAME, TASK_ID_RE, Layout
from storyreel.protocol import SIDECAR_NAMES
from storyreel.web.auth import Access

VIDEO_PATH = "/dashboard/videos"
# What a published output folder may serve, by name, and as what.
SERVED_NAMES = (FINAL_NAME, *SIDECAR_NAMES)
_MEDIA_TYPES = {".mp4": "video/mp4", ".srt": "application/x-subrip", ".vtt": "text/vtt",
                ".json": "application/json", ".jpg": "image/jpeg", ".png": "image/png"}
_HEADERS = {"Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer"}


def served_file(layout: Layout, task_id: str, name: str) -> Path | None:
    """output/<task_id>/<name> when it is a file this route may serve, else None."""
    if not TASK_ID_RE.match(task_id) or name not in SERVED_NAMES:
        return None
    folder = layout.output / task_id
    path = folder / name
    try:
        inside = path.resolve(strict=True).parent == folder.resolve(strict=True)
    except OSError:
        return None
    return path if inside and folder.resolve().parent == layout.output.resolve() and path.is_file() else None


def download_name(layout: Layout, task_id: str, name: str) -> str:
    """`dragon_flight-chapter3.mp4` for the video, `….srt` for its captions, `…-words.json`."""
    stem = name_of(layout, task_id, layout.output / task_id).file_stem
    if name == FINAL_NAME:
        return f"{stem}.mp4"
    base, _, suffix = name.rpartition(".")
    return f"{stem}.{suffix}" if base == "captions" else f"{stem}-{name}"


def _refused(request: Request) -> Response:
    """A browser is sent to log in; a script is told what to send."""
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/dashboard/login", status_code=303)
    return JSONResponse({"detail": "log in at /dashboard/login or send the project token"}, status_code=401,
                        headers={"WWW-Authenticate": "Bearer"})


def video_routes(router: APIRouter, layout: Layout, access: Access) -> None:
    @router.api_route(VIDEO_PATH + "/{task_id}/{name}", methods=["GET", "HEAD"], include_in_schema=False)
    def video(request: Request, task_id: str, name: str, download: bool = False) -> Response:
        if not access.allowed(request):
            return _refused(request)
        path = served_file(layout, task_id, name)
        if path is None:
            return Response("not found", status_code=404, media_type="text/plain")
        # FileResponse answers Range requests itself: 206 with Content-Range, 416 past the end.
        return FileResponse(
            path, media_type=_MEDIA_TYPES.get(path.suffix, "application/octet-stream"), headers=_HEADERS,
            filename=download_name(layout, task_id, name),
            content_disposition_type="attachment" if download else "inline",
        )
