"""The storyreel commands. Each sets up logging and hands over; no logic lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from storyreel import __version__
from storyreel.errors import StoryreelError
from storyreel.logs import parse_level, setup_logging
from storyreel.node.limits import DEFAULT_GRACE_SECONDS


class _App(typer.Typer):
    """The commands, and one guard: a user error no command caught is still one message
    and exit code 2, never a traceback."""

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except StoryreelError as exc:
            _say(exc)
            sys.exit(2)


app = _App(
    help=(
        "storyreel: a render farm for story videos.\n\n"
        "Drop narration, background clips, music and story links into ROOT/raw/; storyreel "
        "files them into ROOT/scanned/, builds render tasks in ROOT/tasks/ and renders "
        "finished videos to ROOT/output/<task>/final.mp4."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: flags read `--once` (no `<bool>`), paragraphs are wrapped to the
    # terminal, and `[coordinator]` in a help text stays text instead of Rich markup.
    rich_markup_mode=None,
)

RootArg = Annotated[Path, typer.Argument(help="The project root (the folder holding raw/, scanned/, tasks/ …).")]
# The options `main`, `run` and `render` share, defined once.
LogLevelOpt = Annotated[str | None, typer.Option(metavar="LEVEL", help=(
    "DEBUG, INFO, WARN or ERROR; default: log_level in storyreel.toml (INFO for a render node)."))]
ProgressOpt = Annotated[str, typer.Option(metavar="MODE", help=(
    "Render progress: 'bar' (a progress bar), 'log' (a line every few seconds) or 'auto' (a bar "
    "when stderr is a terminal; with several local nodes, lines)."))]
ListenOpt = Annotated[str | None, typer.Option(metavar="HOST:PORT", help=(
    "Serve render nodes and the dashboard on HOST:PORT (e.g. 0.0.0.0:8765 for a farm); default: "
    "the [coordinator] listen setting for 'main', loopback on a free port for 'run'."))]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"storyreel {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    pass


def _say(exc: StoryreelError) -> None:
    typer.secho(f"storyreel: {exc}", fg=typer.colors.RED, err=True)


def _fail(exc: StoryreelError) -> None:
    _say(exc)
    raise typer.Exit(2)


def _open(root: Path, log_level: str | None = None):
    """The project, read-only until a main worker holds its root lock; logging set up at
    `log_level` (the command's --log-level) or the file's."""
    from storyreel.project import Project

    project = Project.open(root)
    if log_level is not None:
        parse_level(log_level)  # an unknown level is one message naming the allowed ones
        project.settings.log_level = log_level  # also the level of `run`'s local nodes
    setup_logging(project.layout.log_file, project.settings.log_level)
    return project


def _open_to_work(root: Path, encoder: str | None = None, log_level: str | None = None):
    """The project for a command that ingests or renders, its render settings checked
    against this machine first (`encoder`, the command's --encoder, overrides the file's)."""
    from storyreel.render.preflight import check_settings

    project = _open(root, log_level)
    check_settings(project.settings, project.layout.config_file, project.layout.root, encoder=encoder)
    return project


@app.command()
def init(root: RootArg) -> None:
    """Create a project: the project folders, a commented storyreel.toml with every default,
    and the access token render nodes use. Existing files are kept."""
    from storyreel.project import Project

    try:
        project = Project.init(root)
    except StoryreelError as exc:
        _fail(exc)
    layout = project.layout
    typer.echo(f"Project ready at {layout.root}")
    typer.echo(f"  drop assets into  {layout.raw}/{{video,frame,music,story}}/…")
    typer.echo(f"  settings          {layout.config_file}")
    typer.echo(f"  node token        {layout.token_file}")


@app.command()
def main(
    root: RootArg,
    once: Annotated[bool, typer.Option("--once", help=(
        "Process what is in raw/ now (each file once its size and mtime are stable), then exit."))] = False,
    listen: ListenOpt = None,
    log_level: LogLevelOpt = None,
    tls_cert: Annotated[Path | None, typer.Option(help=(
        "Serve render nodes over HTTPS with this PEM certificate (chain); needs --tls-key."))] = None,
    tls_key: Annotated[Path | None, typer.Option(help="The PEM private key of --tls-cert.")] = None,
) -> None:
    """Run the main worker: watch raw/, validate and file assets into scanned/, plan tasks,
    and hand tasks to render nodes over HTTP (see 'storyreel render').

    Runs until Ctrl-C or SIGTERM (the first finishes the current file, a second stops at once)."""
    from storyreel.mainworker import MainWorker
    from storyreel.netaddr import Listen
    from storyreel.shutdown import Shutdown, exit_at_once
    from storyreel.tls import ServerTLS

    try:
        project = _open_to_work(root, log_level=log_level)
        if once:
            MainWorker(project).run_once()
        else:
            address = Listen.parse(listen or project.settings.coordinator.listen)
            worker = MainWorker(project, listen=address, tls=ServerTLS.from_options(tls_cert, tls_key))
            worker.run_forever(Shutdown(on_hard=exit_at_once).install().soft)
    except StoryreelError as exc:
        _fail(exc)


@app.command()
def status(
    root: RootArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the farm state as JSON for scripts.")] = False,
    watch: Annotated[bool, typer.Option("--watch", help=(
        "Redraw every --interval seconds until Ctrl-C; into a pipe or file, print one whole "
        "picture (or JSON line) per interval instead."))] = False,
    interval: Annotated[float, typer.Option(metavar="SECONDS", help="Seconds between redraws with --watch.", min=0.2)] = 2.0,
    window: Annotated[float, typer.Option(metavar="SECONDS", help="Span of the recent metrics, in seconds.", min=1)] = 3600.0,
    url: Annotated[
        str | None, typer.Option(metavar="URL", help="Coordinator URL; default: the [coordinator] listen address.")
    ] = None,
    ca_file: Annotated[Path | None, typer.Option(help=(
        "Trust an https coordinator whose certificate chains to this CA file; default: the "
        "certificate a main worker on this machine serves, then the system's CAs."))] = None,
) -> None:
    """Show folders, nodes (encoder, state, last seen, task, progress, ETA) and the throughput
    metrics. Live node progress comes from the running coordinator; without one, from the log."""
    from storyreel.project import Project
    from storyreel.status import print_status

    try:
        print_status(Project.open(root), as_json=as_json, watch=watch, interval=interval, window=window, url=url,
                     ca_file=ca_file)
    except StoryreelError as exc:
        _fail(exc)


@app.command()
def dashboard(
    root: RootArg,
    listen: Annotated[
        str, typer.Option(help="HOST:PORT to serve on; a non-loopback address asks for the project token.")
    ] = "127.0.0.1:8766",
) -> None:
    """Serve the read-only web dashboard and /metrics on their own, e.g. while 'storyreel run'
    renders on this machine. A running 'storyreel main' already serves them on its own port."""
    from storyreel.netaddr import Listen
    from storyreel.shutdown import Shutdown, exit_at_once
    from storyreel.web.standalone import serve

    try:
        serve(_open(root), Listen.parse(listen), Shutdown(on_hard=exit_at_once).install().soft)
    except StoryreelError as exc:
        _fail(exc)


@app.command()
def run(
    root: RootArg,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help=(
            "Exit once nothing can move without new input; print what waits and why. "
            "Exit code 0 only when nothing failed, waits or is held in raw/, else 1."))
    ] = False,
    encoder: Annotated[
        str | None, typer.Option(metavar="NAME", help=(
            "Force an encoder (e.g. libx264); default: the task's [render] encoder. It also "
            "replaces, for this run's tasks, a [render] encoder this ffmpeg does not have."))
    ] = None,
    nodes: Annotated[
        int,
        typer.Option(min=1, max=64, metavar="COUNT", help="How many local render node processes to run; they talk to the "
                                          "main worker over loopback HTTP, exactly as nodes on other machines."),
    ] = 1,
    listen: ListenOpt = None,
    log_level: LogLevelOpt = None,
    progress: ProgressOpt = "auto",
) -> None:
    """Run the main worker and local render nodes together: raw/ in, output/<task>/final.mp4 out.

    A progress bar on a terminal (one node), a log line every few seconds otherwise. The first
    Ctrl-C or SIGTERM lets each node finish its current render and upload and hands back the
    prefetched task; a second stops at once and hands back everything."""
    from storyreel.farm import LOOPBACK, run_farm
    from storyreel.netaddr import Listen
    from storyreel.shutdown import Shutdown

    try:
        _progress_bar(progress)  # a bad --progress is refused before anything starts
        project = _open_to_work(root, encoder, log_level)
        address = Listen.parse(listen) if listen else LOOPBACK
        left = run_farm(project, nodes, Shutdown().install(), until_idle=until_idle, encoder=encoder,
                        listen=address, progress=progress)
    except StoryreelError as exc:
        _fail(exc)
    if left is not None:
        typer.echo("\n".join(left.lines(project)))
        raise typer.Exit(0 if left.clean else 1)


def _server_url(server: str) -> str:
    """`--server` as a URL: `farm:8765` gets `http://` with an INFO line; nonsense is refused."""
    from storyreel.logs import RENDER_WORKER, get_logger
    from storyreel.netaddr import server_url

    url, added = server_url(server)
    if added:
        get_logger(RENDER_WORKER).info("--server %s has no scheme: using %s", server, url)
    return url


def _not_a_coordinator(url: str, exc: StoryreelError) -> StoryreelError:
    """A 404 to our registration: the server answers, but it is not the coordinator (the
    dashboard's port, most likely); waiting will not help, so say so and stop."""
    from storyreel.errors import ConfigError, Refused

    if not (isinstance(exc, Refused) and exc.status == 404 and str(exc).startswith("cannot register")):
        return exc
    return ConfigError(f"{url} is not a storyreel coordinator (it answered 404 to a node's registration): "
                       "point --server at the main worker's [coordinator] listen address (default port "
                       "8765), not at 'storyreel dashboard' (default port 8766)")


@app.command()
def render(
    server: Annotated[str, typer.Option(help="The main worker's URL, e.g. http://farm-main:8765.")],
    token: Annotated[
        str | None,
        typer.Option(envvar="STORYREEL_TOKEN", help="The project's token (ROOT/.storyreel/token on the main "
                                                    "worker); or set STORYREEL_TOKEN."),
    ] = None,
    token_file: Annotated[Path | None, typer.Option(help="Read the token from this file instead.")] = None,
    node_id: Annotated[str | None, typer.Option(help="This node's name; default: <hostname>-<pid>.")] = None,
    work_dir: Annotated[
        Path | None, typer.Option(help="Where downloaded inputs and renders are kept; default: a temp folder.")
    ] = None,
    copy_inputs: Annotated[
        bool, typer.Option("--copy-inputs", help="Download inputs even when the project root is visible here.")
    ] = False,
    encoder: Annotated[
        str | None, typer.Option(help="Force an encoder (e.g. libx264) for every task; default: each task's.")
    ] = None,
    log_level: LogLevelOpt = None,
    log_file: Annotated[
        Path | None, typer.Option(help="Also append log lines to this file (they always go to stderr).")
    ] = None,
    progress: ProgressOpt = "auto",
    max_tasks: Annotated[
        int | None, typer.Option(min=1, help="Claim at most N tasks, finish them and exit 0 (a batch "
                                             "job's worth); the prefetch never claims past N.")
    ] = None,
    exit_when_idle: Annotated[
        float | None, typer.Option(min=0, metavar="SECONDS", help=(
            "Exit 0 once the node has held nothing and had nothing to claim for this long."))
    ] = None,
    grace: Annotated[
        float, typer.Option(min=0, metavar="SECONDS", help=(
            "After the first SIGTERM/Ctrl-C, finish the current render and upload for at most this "
            "long, then hand back everything and exit. Let supervisors wait a little longer "
            "(terminationGracePeriodSeconds, TimeoutStopSec) before they kill the node."))
    ] = DEFAULT_GRACE_SECONDS,
    ca_file: Annotated[Path | None, typer.Option(help=(
        "Trust an https coordinator whose certificate chains to this PEM CA file; default: the system's CAs."
    ))] = None,
    narrate: Annotated[bool, typer.Option(help=(
        "Also take narrate tasks (a story chunk spoken into a chapter's voice) with the narration "
        "engines this machine has: piper (pip install 'storyreel[narration]'), espeak-ng."))] = True,
) -> None:
    """Run a render node: claim tasks from the main worker, download, render, upload.

    While one task renders the next downloads and the previous uploads. The first Ctrl-C or
    SIGTERM hands back the prefetched task and finishes the current one (within --grace); a
    second stops at once and hands back everything."""
    from storyreel.node.limits import Limits
    from storyreel.node.main import run_node

    setup_logging(log_file, log_level or "INFO")
    try:
        token = _node_token(token, token_file)
        bar = _progress_bar(progress)
        limits = Limits(max_tasks=max_tasks, exit_when_idle=exit_when_idle, grace=grace)
        server = _server_url(server)
        run_node(server, token, node_id=node_id, work_dir=work_dir, copy_inputs=copy_inputs, encoder=encoder,
                 progress_bar=bar, limits=limits, ca_file=ca_file, narrate=narrate)
    except StoryreelError as exc:
        _fail(_not_a_coordinator(server, exc))


def _node_token(token: str | None, token_file: Path | None) -> str:
    """The token a render node presents: --token-file wins over --token / STORYREEL_TOKEN."""
    from storyreel.errors import ConfigError

    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the token file {token_file}: {exc.strerror or exc}") from exc
    if not token:
        raise ConfigError("a render node needs the project's token: --token, --token-file or STORYREEL_TOKEN")
    return token


def _progress_bar(progress: str) -> bool:
    """--progress auto|bar|log as "draw a bar": auto draws one when stderr is a terminal."""
    from storyreel.errors import ConfigError

    if progress not in ("auto", "bar", "log"):
        raise ConfigError(f"--progress must be auto, bar or log, not {progress!r}")
    return sys.stderr.isatty() if progress == "auto" else progress == "bar"


token_app = typer.Typer(
    help=(
        "Per-node tokens: one per render machine, so a lost one is cut off alone (the project "
        "token stays the operator's). A node token NAME acts only as node ids NAME or NAME-…; "
        "give it to 'storyreel render' with --token-file or STORYREEL_TOKEN."
    ),
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")
TokenName = Annotated[str, typer.Argument(help="The node's name, e.g. its host name.")]


def _project_layout(root: Path):
    from storyreel.project import Project

    return Project.open(root).layout


@token_app.command("add")
def token_add(root: RootArg, name: TokenName) -> None:
    """Make a token for node NAME and print it once; only its hash is kept. Works while the
    main worker runs: its next request check knows the new token."""
    from storyreel import tokens

    try:
        typer.echo(tokens.add(_project_layout(root), name))
    except StoryreelError as exc:
        _fail(exc)
    typer.echo(f"node token {name!r} added; it is shown only now", err=True)


@token_app.command("revoke")
def token_revoke(root: RootArg, name: TokenName) -> None:
    """Revoke node NAME's token: a running coordinator refuses it from its next request."""
    from storyreel import tokens

    try:
        tokens.revoke(_project_layout(root), name)
    except StoryreelError as exc:
        _fail(exc)
    typer.echo(f"node token {name!r} revoked")


@token_app.command("list")
def token_list(root: RootArg) -> None:
    """The node tokens: name and when it was made (no secrets; only hashes are stored)."""
    from storyreel import tokens

    try:
        found = tokens.listing(_project_layout(root))
    except StoryreelError as exc:
        _fail(exc)
    if not found:
        typer.echo("no node tokens (nodes use the project token)")
    for token in found:
        typer.echo(f"{token.name}\tcreated {token.created}")


# `python -m storyreel.cli` runs this file as __main__: the command modules below find it by name.
sys.modules.setdefault("storyreel.cli", sys.modules[__name__])
from storyreel import cli_views  # noqa: E402,F401  (tasks, outputs)
from storyreel.cli_steer import register as _register_steering  # noqa: E402

_register_steering(app)  # cancel, retry, replan, node pause|resume|drain

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
