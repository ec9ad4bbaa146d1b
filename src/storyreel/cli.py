"""The storyreel commands. Each sets up logging and hands over; no logic lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from storyreel import __version__
from storyreel.errors import StoryreelError
from storyreel.logs import setup_logging

app = typer.Typer(
    help=(
        "storyreel: a render farm for story videos.\n\n"
        "Drop narration, background clips, music and story links into ROOT/raw/; storyreel "
        "files them into ROOT/scanned/, builds render tasks in ROOT/tasks/ and renders "
        "finished videos to ROOT/output/<task>/final.mp4."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

RootArg = Annotated[Path, typer.Argument(help="The project root (the folder holding raw/, scanned/, tasks/ …).")]


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


def _fail(exc: StoryreelError) -> None:
    typer.secho(f"storyreel: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _open(root: Path):
    """The project, read-only until a main worker holds its root lock; logging set up."""
    from storyreel.project import Project

    project = Project.open(root)
    setup_logging(project.layout.log_file, project.settings.log_level)
    return project


@app.command()
def init(root: RootArg) -> None:
    """Create a project: the SPEC folders, a commented storyreel.toml with every default,
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
    listen: Annotated[
        str | None,
        typer.Option(help="Serve render nodes on HOST:PORT (e.g. 0.0.0.0:8765 for a farm); "
                          "default: the [coordinator] listen setting, 127.0.0.1:8765."),
    ] = None,
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
        project = _open(root)
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
    watch: Annotated[bool, typer.Option("--watch", help="Redraw every --interval seconds until Ctrl-C.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between redraws with --watch.", min=0.2)] = 2.0,
    window: Annotated[float, typer.Option(help="Span of the recent metrics, in seconds.", min=1)] = 3600.0,
    url: Annotated[
        str | None, typer.Option(help="Coordinator URL; default: the [coordinator] listen address.")
    ] = None,
    ca_file: Annotated[Path | None, typer.Option(help=(
        "Trust an https coordinator whose certificate chains to this CA file; default: the "
        "certificate a main worker on this machine serves, then the system's CAs."))] = None,
) -> None:
    """Show folders, nodes (encoder, state, last seen, task, progress, ETA) and the SPEC §10
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
        bool, typer.Option("--until-idle", help="Exit once raw/, tasks/ and processing/ are drained.")
    ] = False,
    encoder: Annotated[
        str | None, typer.Option(help="Force an encoder (e.g. libx264); default: the task's [render] encoder.")
    ] = None,
    nodes: Annotated[
        int,
        typer.Option(min=1, max=64, help="How many local render node processes to run; they talk to the "
                                          "main worker over loopback HTTP, exactly as nodes on other machines."),
    ] = 1,
) -> None:
    """Run the main worker and local render nodes together: raw/ in, output/<task>/final.mp4 out.

    A progress bar on a terminal (one node), a log line every few seconds otherwise. The first
    Ctrl-C or SIGTERM lets each node finish its current render and upload and hands back the
    prefetched task; a second stops at once and hands back everything."""
    from storyreel.farm import run_farm
    from storyreel.shutdown import Shutdown

    try:
        run_farm(_open(root), nodes, Shutdown().install(), until_idle=until_idle, encoder=encoder)
    except StoryreelError as exc:
        _fail(exc)


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
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARN or ERROR.")] = "INFO",
    log_file: Annotated[
        Path | None, typer.Option(help="Also append log lines to this file (they always go to stderr).")
    ] = None,
    progress: Annotated[
        str, typer.Option(help="Render progress: 'bar' (a progress bar), 'log' (a line every few seconds) "
                               "or 'auto' (a bar when stderr is a terminal).")
    ] = "auto",
    ca_file: Annotated[Path | None, typer.Option(help=(
        "Trust an https coordinator whose certificate chains to this PEM CA file; default: the system's CAs."
    ))] = None,
) -> None:
    """Run a render node: claim tasks from the main worker, download, render, upload.

    While one task renders the next downloads and the previous uploads. The first Ctrl-C or
    SIGTERM hands back the prefetched task and finishes the current one; a second stops at once
    and hands back everything."""
    from storyreel.errors import ConfigError
    from storyreel.node.main import run_node

    setup_logging(log_file, log_level)
    try:
        if token_file is not None:
            try:
                token = token_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read the token file {token_file}: {exc.strerror or exc}") from exc
        if not token:
            raise ConfigError("a render node needs the project's token: --token, --token-file or STORYREEL_TOKEN")
        if progress not in ("auto", "bar", "log"):
            raise ConfigError(f"--progress must be auto, bar or log, not {progress!r}")
        bar = sys.stderr.isatty() if progress == "auto" else progress == "bar"
        run_node(server, token, node_id=node_id, work_dir=work_dir, copy_inputs=copy_inputs, encoder=encoder,
                 progress_bar=bar, ca_file=ca_file)
    except StoryreelError as exc:
        _fail(exc)


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
