"""`make demo`: sample assets into demo/root/raw/, `storyreel run --until-idle`, show the result.

The story's text (the chunk a crawled link would give) is the narration's own, so the video
comes out captioned word by word, with captions.srt, captions.vtt and words.json beside it.

The chapter is rendered twice, through two profiles of its category: the 16:9 master
(`main`, [render] as written) and a 9:16 short (`shorts`: 1080x1920, captions a few words
at a time, clips cropped to fill the frame).

A second story comes from a link alone: a small story site on this machine serves it,
storyreel crawls it into a chunk, a render node narrates it (piper when the
`storyreel[narration]` extra is installed, else espeak-ng), and the chapter renders
captioned with the engine's own word timings, in both profiles too.

The master renders at 1280x720 with the veryfast preset so the demo finishes in a few
minutes on a laptop; the product's default is SPEC §5's 3840x2160 (set in storyreel.toml).
"""

from __future__ import annotations

import atexit
import html
import json
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # mediakit: sample media made with ffmpeg and espeak-ng
sys.path.insert(0, str(REPO / "src"))

import mediakit  # noqa: E402

from storyreel.config import RenderSettings  # noqa: E402
from storyreel.layout import TaskState  # noqa: E402
from storyreel.media.probe import probe  # noqa: E402
from storyreel.project import Project  # noqa: E402
from storyreel.protocol import THUMBNAIL_NAME  # noqa: E402

ROOT = REPO / "demo" / "root"
CATEGORY = "fantasy"
DEMO_SIZE = "1280x720"
SHORT_SIZE = "1080x1920"  # the platforms' 9:16 size for shorts
PROFILES = ["main", "shorts"]  # the demo category renders every chapter to both
DASHBOARD = "127.0.0.1:8766"  # `storyreel dashboard`'s default address
NARRATION = (
    "Chapter one. High above the silver lake, a young dragon named Ember watched the clouds "
    "drift by. Every morning she practised her wings, and every morning the wind pushed her "
    "back to the ground. But today the air was warm, and the valley was quiet. Ember spread "
    "her wings, leaned into the breeze, and for the first time, she flew over the hills, "
    "past the old stone bridge, all the way to the edge of the sea."
)
LINKED_STORY = "lighthouse_keeper"
LINKED_TITLE = "The Lighthouse Keeper"
LINKED_TEXT = (
    "The lighthouse keeper counted the ships every night. Nobody had asked him to, but the "
    "numbers kept him company through the long winter.\n\n"
    "One evening a ship came that was not on any chart. Its lamps burned green, and it made no "
    "sound at all as it slipped past the rocks and out into the fog.\n\n"
    "He wrote it down anyway. Number four hundred and twelve, he said to the empty room, and "
    "climbed the stairs to light the lamp again."
)
CLIPS = [  # name, width, height, fps, seconds, audio, lavfi source: deliberately unlike each other
    ("harbour", 1280, 720, 30, 6.0, True, "testsrc2"),
    ("archive", 640, 480, 25, 5.0, False, "smptebars"),
    ("flight", 960, 540, 60, 4.0, True, "testsrc"),
    ("phone", 720, 1280, 24, 5.0, False, "rgbtestsrc"),
]


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def make_assets(raw: Path) -> None:
    for name, width, height, fps, seconds, audio, source in CLIPS:
        mediakit.clip(raw / "video" / CATEGORY / f"{name}.mp4", width=width, height=height, fps=fps,
                      seconds=seconds, audio=audio, source=source)
        print(f"   clip  {name}.mp4  {width}x{height} @ {fps} fps, {seconds:g} s, "
              f"{'with' if audio else 'no'} audio")
    mediakit.tone_mp3(raw / "music" / CATEGORY / "theme.mp3", seconds=12.0, frequency=220)
    print("   music theme.mp3  12 s (shorter than the narration: it loops)")
    voice = raw / "story" / CATEGORY / "dragon_flight" / "voice" / "chapter_0001.mp3"
    mediakit.speech_mp3(voice, NARRATION)
    print(f"   voice chapter_0001.mp3  {probe(voice).duration:.1f} s of espeak-ng narration")


def add_story_text(root: Path) -> None:
    """The chapter's text, where crawling the story's link would have put it."""
    chunk = Project.open(root).layout.scanned_chunk(CATEGORY, "dragon_flight", 1)
    chunk.parent.mkdir(parents=True, exist_ok=True)
    chunk.write_text(NARRATION + "\n", encoding="utf-8")
    print(f"   text  {chunk.relative_to(root)}  (the narration's words: captions)")


def serve_story_site() -> str:
    """A one-page story site on this machine (loopback), as a link's target; its URL."""
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in LINKED_TEXT.split("\n\n"))
    page = (f"<!doctype html><html><head><title>{LINKED_TITLE}</title></head><body>"
            f"<nav><a href='/'>Stories</a> · <a href='/about'>About</a></nav>"
            f"<article><h1>{LINKED_TITLE}</h1>{paragraphs}</article>"
            "<footer>A story site for the storyreel demo.</footer></body></html>").encode()

    class Site(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/lighthouse-keeper"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(page)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    atexit.register(server.shutdown)
    return f"http://127.0.0.1:{server.server_address[1]}/lighthouse-keeper"


def add_story_link(raw: Path, url: str) -> None:
    link = raw / "story" / CATEGORY / LINKED_STORY / "link" / "story.txt"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.write_text(url + "\n", encoding="utf-8")
    print(f"   link  {link.relative_to(raw.parent)}  → {url} (no voice: it is narrated)")


def configure(root: Path) -> None:
    cfg = root / "storyreel.toml"
    text = cfg.read_text(encoding="utf-8")
    for key, value in (("resolution", f'"{DEMO_SIZE}"'), ("preset", '"veryfast"'),
                       ("logo", '"brand/logo.png"'), ("stable_seconds", "0.5"),
                       # the demo's story site runs on this machine, and nobody records a voice
                       ("allow_private_networks", "true"), ("mode", '"missing"'), ("wait_seconds", "0.0")):
        text = text.replace(next(ln for ln in text.splitlines() if ln.startswith(f"{key} = ")),
                            f"{key} = {value}", 1)
    cfg.write_text(text + profiles_toml(), encoding="utf-8")
    mediakit.logo_png(root / "brand" / "logo.png", width=120, height=48, color="orange")


def profiles_toml() -> str:
    """The demo category's two profiles: the master as [render] says, and a 9:16 short."""
    short = [f'resolution = "{SHORT_SIZE}"']
    if "fill" in RenderSettings.model_fields:  # clips of another shape cropped to fill the short
        short.append('fill = "crop"')
    return "\n".join([
        "", "# The demo: a 16:9 master and a 9:16 short of every chapter of its category.",
        "[profiles.shorts.render]", *short, "", "[profiles.shorts.captions]", 'style = "words"', "",
        f"[categories.{CATEGORY}]", f"profiles = {json.dumps(PROFILES)}", "",
    ])


def start_dashboard(storyreel: list[str]) -> None:
    """Serve the read-only dashboard while the demo renders; it stops when the demo ends
    (on a terminal, once Enter is pressed, so the finished farm can be looked at)."""
    proc = subprocess.Popen([*storyreel, "dashboard", str(ROOT), "--listen", DASHBOARD],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"   watch the work move: http://{DASHBOARD}/dashboard")

    def stop() -> None:
        if proc.poll() is None and sys.stdin.isatty():
            try:
                input(f"\nThe dashboard is still at http://{DASHBOARD}/dashboard; press Enter to stop it. ")
            except (EOFError, KeyboardInterrupt):
                print()
        proc.terminate()
        proc.wait(10)

    atexit.register(stop)


def outputs(layout) -> list[tuple[Path, dict]]:
    """Every finished video and its metadata.json."""
    finals = [layout.output_file(task_id) for task_id in layout.task_ids(TaskState.DONE)]
    return [(final, json.loads((final.parent / "metadata.json").read_text())) for final in finals]


def main() -> int:
    storyreel = [sys.executable, "-m", "storyreel.cli"]
    if ROOT.exists():
        say(f"Removing the previous demo at {ROOT}")
        shutil.rmtree(ROOT)
    say(f"Creating a project at {ROOT}")
    subprocess.run([*storyreel, "init", str(ROOT)], check=True)
    configure(ROOT)
    print(f"   output size {DEMO_SIZE}, preset veryfast: smaller and faster than the 3840x2160 default")
    print(f"   category {CATEGORY}: profiles main ({DEMO_SIZE}) and shorts ({SHORT_SIZE}, captions word by word)")
    print("   [narration] mode missing, wait 0 s: a story without a voice is narrated at once")
    say("Making sample assets in raw/")
    make_assets(ROOT / "raw")
    add_story_text(ROOT)
    add_story_link(ROOT / "raw", serve_story_site())
    say("Running: storyreel run demo/root --until-idle")
    start_dashboard(storyreel)
    started = time.monotonic()
    done = subprocess.run([*storyreel, "run", str(ROOT), "--until-idle"])
    took = time.monotonic() - started
    if done.returncode != 0:
        print(f"storyreel run failed with exit code {done.returncode}", file=sys.stderr)
        return done.returncode
    project = Project.open(ROOT)
    layout = project.layout
    failed = layout.task_ids(TaskState.FAILED)
    finished = layout.task_ids(TaskState.DONE)
    say(f"Done in {took:.0f} s: {len(finished)} video(s), {len(failed)} failed task(s)")
    for task_id in failed:
        print(f"   failed: {layout.task_dir(task_id, TaskState.FAILED)} (see stderr.log, reason.json)")
    for final, meta in sorted(outputs(layout), key=lambda item: PROFILES.index(item[1].get("profile", "main"))):
        info = probe(final)
        video, audio = info.first_video, info.first_audio
        print(f"   {final}  ({meta.get('story_name')}, profile {meta.get('profile', 'main')})")
        print(f"   {video.codec} {video.width}x{video.height} @ {video.fps:g} fps, {audio.codec} "
              f"{audio.sample_rate} Hz {audio.channels} ch, {info.duration:.2f} s, "
              f"{info.size / 1e6:.1f} MB")
        sidecars = [p.name for p in sorted(final.parent.iterdir()) if p.suffix in (".srt", ".vtt")]
        quality = meta.get("captions_quality")
        if quality and (meta.get("captions") or {}).get("words_file"):
            print(f"   captions burned in: {quality['words']} words timed by the narration engine itself "
                  f"(no alignment); sidecars {', '.join(sidecars)}, words.json")
        elif quality:
            print(f"   captions burned in: {quality['aligned']} of {quality['words']} words aligned "
                  f"(confidence {quality['confidence']:.2f}); sidecars {', '.join(sidecars)}, words.json")
        render, loudness = meta.get("render", {}), meta.get("loudness")
        if loudness:
            print(f"   sound: {loudness['integrated_lufs']:.1f} LUFS, true peak {loudness['true_peak_dbtp']:.1f} dBTP "
                  f"(target {render.get('loudness_lufs')} LUFS), music ducked: {render.get('ducking')}")
        thumbnail = final.parent / THUMBNAIL_NAME
        shape = probe(thumbnail).first_video if thumbnail.is_file() else None
        print(f"   picture: fill {render.get('fill')}; thumbnail "
              + (f"{thumbnail.name} {shape.width}x{shape.height}" if shape else "missing"))
    report_narration(layout)
    return 0 if len(finished) == 2 * len(PROFILES) and not failed else 1


def report_narration(layout) -> None:
    """How the linked story's chapter was narrated (its voice's record)."""
    from storyreel import voicerecord

    voice = layout.scanned_voice(CATEGORY, LINKED_STORY, "chapter_0001.mp3")
    made = voicerecord.narration(voice)
    if made is None:
        print(f"   {LINKED_STORY}: not narrated (see the log above)")
        return
    record = voicerecord.read(voice)
    seconds = f"{record.duration:.1f} s" if record else "?"
    print(f"   {LINKED_STORY}: crawled from its link and narrated by {made.node} with {made.engine} "
          f"(voice {made.voice}), {seconds}: {voice.relative_to(layout.root)}")


if __name__ == "__main__":
    sys.exit(main())
