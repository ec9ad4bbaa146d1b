"""Story link files: raw/story/<c>/<s>/link/<name>.txt → scanned/story/<c>/<s>/chunk_NNNN.txt.

A link file lists one or more http(s) URLs, one a line, in reading order (blank
lines and `#` comments are ignored). Every URL is fetched safely, its story text
extracted, the texts joined and split into chunks of at most `chunk_words` words,
numbered after the story's existing chunks. The link file then moves to
scanned/story/<c>/<s>/link/ with a record beside it (`<name>.record.json`: URLs,
fetch time, chunks). Any failure sends the link file to trash/invalid/ with a
reason naming the URL and what happened; nothing is written for it.

Commit, safe against a kill at any point:

1. the record is written first, with `"state": "committing"` and the chunk
   names it is about to write;
2. each chunk is written atomically under its final name;
3. the link file is moved from raw/ next to the record;
4. the record is rewritten with `"state": "done"`.

At start (`recover`), a record still "committing" whose link file has arrived
is simply marked done (the move comes after every chunk). One whose link file
has not arrived lists chunks that are incomplete: they are removed with the
record, and the link file, still in raw/, is crawled again. So a restart never
duplicates chunks and never leaves a partial set.

Link files of one story are handled one at a time, in name order, so chunk
numbers follow the order of the link files; different stories crawl in
parallel, at most `concurrency` at once, so one slow site cannot stall the rest.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from storyreel import fsops
from storyreel.crawl.chunk import chunk_text, count_words
from storyreel.crawl.extract import extract_text
from storyreel.crawl.fetch import Fetcher, Limits
from storyreel.crawl.safety import parse_url
from storyreel.errors import (
    ExtractError,
    FetchError,
    FilesystemError,
    LinkFileError,
    StoryreelError,
    UnsafeURLError,
)
from storyreel.ingest.filing import file_into, reject, rel
from storyreel.ingest.watch import Signature, signature
from storyreel.layout import CHUNK_RE, RawAsset, RawRole
from storyreel.logs import MAIN_WORKER, get_logger, iso_utc
from storyreel.project import Project
from storyreel.units import human_size, plural

log = get_logger(MAIN_WORKER)

# A link file is a short list of URLs; anything bigger is not one.
MAX_LINK_FILE_BYTES = 64 * 1024
# More pages than this for one link file is a mistake (or a crawl of a whole site).
MAX_URLS = 200

COMMITTING = "committing"
DONE = "done"


def read_urls(path: Path) -> list[str]:
    """The URLs of a link file, in order; raises LinkFileError with the reason."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LinkFileError(f"cannot read the link file ({exc.strerror or exc})") from exc
    if len(data) > MAX_LINK_FILE_BYTES:
        raise LinkFileError(f"link file is over {human_size(MAX_LINK_FILE_BYTES)}; expected a few URLs")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LinkFileError(f"link file is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    urls: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if len(line.split()) > 1:
            raise LinkFileError(f"line {number} holds more than one URL: {line[:200]!r}")
        try:
            parse_url(line)
        except UnsafeURLError as exc:
            raise LinkFileError(f"line {number}: {exc}") from exc
        urls.append(line)
    if not urls:
        raise LinkFileError("link file holds no URL")
    if len(urls) > MAX_URLS:
        raise LinkFileError(f"link file holds {len(urls)} URLs; at most {MAX_URLS} are allowed")
    return urls


def _failure(url: str, exc: FetchError | ExtractError) -> str:
    if isinstance(exc, FetchError) and exc.url != url:
        return f"cannot fetch {url}: at {exc.url}: {exc.reason}"
    verb = "fetch" if isinstance(exc, FetchError) else "extract"
    return f"cannot {verb} {url}: {exc.reason}"


def recover(project: Project) -> list[Path]:
    """Finish or undo commits a killed main worker left half-done; returns records handled."""
    handled: list[Path] = []
    layout = project.layout
    for record_path in layout.link_records():
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            state, chunks = record["state"], list(record["chunks"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("Cannot read link record %s: %s", rel(project, record_path), exc)
            continue
        if state != COMMITTING:
            continue
        link = layout.link_of_record(record_path)
        if link.exists():
            record["state"] = DONE
            fsops.write_json(record_path, record)
            log.info("Finished the interrupted commit of %s", rel(project, link))
        else:
            story_dir = layout.scanned_story(*layout.story_of(record_path))
            for name in chunks:
                if CHUNK_RE.match(str(name)):
                    (story_dir / name).unlink(missing_ok=True)
            record_path.unlink()
            log.warning(
                "Undid the interrupted commit of %s: removed %d partial chunks; the link is crawled again",
                rel(project, link), len(chunks),
            )
        handled.append(record_path)
    return handled


class LinkProcessor:
    """Crawls stable link files in the background; `submit` never blocks."""

    def __init__(self, project: Project) -> None:
        self.project = project
        settings = project.settings.crawl
        self._cancel = threading.Event()
        self.fetcher = Fetcher(Limits.from_settings(settings), cancel=self._cancel)
        self._pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="crawl")
        self._lock = threading.Lock()
        self._queued: dict[tuple[str, str], dict[str, RawAsset]] = {}
        self._active: set[tuple[str, str]] = set()
        self._known: set[Path] = set()
        self._finished = 0  # link files crawled (filed or rejected) since take_finished
        self._closed = False

    def submit(self, asset: RawAsset) -> None:
        """Queue a stable link file; a path already queued or being crawled is ignored."""
        if asset.role != RawRole.LINK or asset.story is None:
            raise ValueError(f"not a story link file: {asset.rel}")
        key = (asset.category, asset.story)
        with self._lock:
            if self._closed or asset.path in self._known:
                return
            self._known.add(asset.path)
            self._queued.setdefault(key, {})[asset.name] = asset
            if key not in self._active:
                self._active.add(key)
                self._pool.submit(self._drain, key)

    def busy(self) -> bool:
        """True while any link file is queued or being crawled."""
        with self._lock:
            return bool(self._active)

    def take_finished(self) -> int:
        """How many link files were crawled since the last call (their chunks are filed)."""
        with self._lock:
            done, self._finished = self._finished, 0
        return done

    def crawling(self) -> list[Path]:
        """The link files queued or being crawled now."""
        with self._lock:
            return sorted(self._known)

    def close(self) -> None:
        """Stop: crawls in flight are abandoned (their link files stay in raw/), queued ones dropped."""
        with self._lock:
            self._closed = True
        self._cancel.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._queued.clear()
            self._active.clear()
            self._known.clear()

    @staticmethod
    def _undo(chunks: list[Path], record: Path) -> None:
        """Remove what a failed commit wrote: its chunks, then its record."""
        for path in chunks:
            path.unlink(missing_ok=True)
        record.unlink(missing_ok=True)

    def _drain(self, key: tuple[str, str]) -> None:
        """Crawl one story's queued link files, one at a time, in name order."""
        while True:
            with self._lock:
                queue = self._queued.get(key)
                if not queue or self._closed:
                    self._queued.pop(key, None)
                    self._active.discard(key)
                    return
                asset = queue.pop(min(queue))
            try:
                self.process(asset)
            except Exception:
                log.exception("Crawl of %s failed unexpectedly; it stays in raw/", rel(self.project, asset.path))
            finally:
                with self._lock:
                    self._known.discard(asset.path)
                    self._finished += 1

    def process(self, asset: RawAsset) -> Path | None:
        """Crawl one link file now. Returns where it went, or None when it stays in raw/."""
        project = self.project
        read_as = signature(asset.path)
        if read_as is None or not asset.path.is_file():
            return None  # already handled, or taken away by the operator
        try:
            urls = read_urls(asset.path)
        except LinkFileError as exc:
            return reject(project, asset.path, str(exc))
        fetched_at = iso_utc()
        texts: list[str] = []
        pages: list[dict[str, Any]] = []
        for url in urls:
            try:
                page = self.fetcher.fetch(url)
                text = extract_text(page.text, page.media_type, page.final_url)
            except (FetchError, ExtractError) as exc:
                if self._cancel.is_set():
                    log.info("Crawl of %s stopped by shutdown; it stays in raw/", rel(project, asset.path))
                    return None
                failed = exc.url if isinstance(exc, FetchError) else url
                return reject(project, asset.path, _failure(url, exc), url=url, failed_url=failed)
            texts.append(text)
            pages.append({
                "url": url, "final_url": page.final_url, "content_type": page.media_type,
                "encoding": page.encoding, "bytes": page.size, "words": count_words(text),
            })
        total = sum(page["words"] for page in pages)
        least = project.settings.crawl.min_words
        if total < least:
            where = urls[0] if len(urls) == 1 else f"{len(urls)} URLs"
            reason = f"cannot extract {where}: no story text found ({total} words, at least {least} wanted)"
            return reject(project, asset.path, reason, url=urls[0])
        chunks = chunk_text("\n".join(texts), project.settings.crawl.chunk_words)
        try:
            return self._commit(asset, read_as, pages, chunks, fetched_at)
        except StoryreelError as exc:
            log.error("Cannot file the crawl of %s, it stays in raw/: %s", rel(project, asset.path), exc)
            return None

    def _commit(
        self, asset: RawAsset, read_as: Signature, pages: list[dict[str, Any]], chunks: list[str],
        fetched_at: str,
    ) -> Path:
        """Write the record, the chunks, then move the link file (see the module docstring).

        A link file edited while it was crawled stays in raw/ (nothing is written) and
        is crawled again as it now reads.
        """
        layout = self.project.layout
        story_name = asset.story or ""
        first = layout.next_chunk_number(asset.category, story_name)
        paths = [layout.scanned_chunk(asset.category, story_name, first + i) for i in range(len(chunks))]
        dest = layout.scanned_link(asset.category, story_name, asset.name)
        record_path = layout.link_record(dest)
        record: dict[str, Any] = {
            "state": COMMITTING,
            "link": rel(self.project, asset.path),
            "urls": [p["url"] for p in pages],
            "fetched_at": fetched_at,
            "pages": pages,
            "words": sum(count_words(c) for c in chunks),
            "chunks": [p.name for p in paths],
        }
        fsops.write_json(record_path, record)
        written: list[Path] = []
        try:
            for path, chunk in zip(paths, chunks, strict=True):
                if path.exists():
                    raise FilesystemError("write", path, None, "a chunk of that number already exists")
                fsops.write_atomic(path, chunk)
                written.append(path)
            placed = file_into(
                self.project, asset.path, dest, kind="link", expect=read_as, urls=record["urls"],
                chunks=record["chunks"], words=record["words"],
            )
        except StoryreelError:
            self._undo(written, record_path)
            raise
        if placed != dest:  # filed as a duplicate into trash/invalid/ instead
            self._undo(written, record_path)
            return placed
        record["state"] = DONE
        fsops.write_json(record_path, record)
        for path in (*paths, record_path):
            self.project.scanned_counts.filed(path)
        story = f"{asset.category}/{asset.story}"
        if paths:
            log.info(
                "Wrote %s … %s for story %s (%s from %s)",
                paths[0].name, paths[-1].name, story, plural(record["words"], "word"), plural(len(pages), "URL"),
            )
        return dest
