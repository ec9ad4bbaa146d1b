"""Per-node access tokens beside the project token, so a lost node is cut off alone.

`storyreel token add ROOT NAME` prints a new token once and keeps only its sha256 in
.storyreel/node-tokens.json; `revoke` drops it, `list` shows names and creation times.
The project token (.storyreel/token) stays the operator's: it still works for nodes, the
dashboard and scripts. A node token works for the render-node API only, and only for node
ids that equal its name or start with `NAME-` (the default node id is `<hostname>-<pid>`,
so a token named after the host covers every node process on it).

The `token` commands run as their own process beside a running main worker: the token file
is the one file in the project root another process writes. It is written whole through a
temp name (fsops.write_atomic) under a flock of the state folder, so two commands never lose
each other's change and the coordinator never reads half a file. The coordinator looks at
the file's stat on each request and reads it again only when that changed, so a revoked
token is refused from the very next request.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from storyreel import fsops
from storyreel.errors import ConfigError
from storyreel.layout import Layout, name_problem

# Random bytes in a node token: as strong as the project token.
TOKEN_BYTES = 32
# Longest token name: a node id is at most 100 characters and must be able to equal it.
MAX_NAME = 100
# The file's format, so a later storyreel can read an older file.
FORMAT = 1


def digest(token: str) -> str:
    """The stored form of a token. One unsalted sha256 is enough here: tokens are 32 random
    bytes, so there is no dictionary to try and nothing for a slow or salted hash to protect."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NodeToken:
    name: str
    sha256: str
    created: str  # ISO 8601, UTC

    def covers(self, node: str) -> bool:
        """The node ids this token may act as: its name, or its name and a dash and more."""
        return node == self.name or node.startswith(self.name + "-")


def check_name(name: str) -> str:
    problem = name_problem(name)
    if problem is None and len(name) > MAX_NAME:
        problem = f"longer than {MAX_NAME} characters"
    if problem is not None:
        raise ConfigError(f"bad token name {name!r}: {problem}")
    return name


def read(path: Path) -> dict[str, NodeToken]:
    """The node tokens by name; none when the file does not exist."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the node tokens {path}: {exc}") from exc
    entries = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise ConfigError(f"cannot read the node tokens {path}: no \"tokens\" table")
    return {
        name: NodeToken(name, str(entry.get("sha256", "")), str(entry.get("created", "")))
        for name, entry in entries.items() if isinstance(entry, dict)
    }


def _write(path: Path, tokens: dict[str, NodeToken]) -> None:
    body = {"format": FORMAT, "tokens": {
        t.name: {"sha256": t.sha256, "created": t.created} for t in sorted(tokens.values(), key=lambda t: t.name)
    }}
    fsops.write_atomic(path, json.dumps(body, indent=2) + "\n")
    os.chmod(path, 0o600)


@contextmanager
def _editing(layout: Layout) -> Iterator[dict[str, NodeToken]]:
    """The tokens to change in place, written back on success; one editor at a time."""
    if not layout.state.is_dir():
        raise ConfigError(f"{layout.root} is not a storyreel project: run 'storyreel init {layout.root}' first")
    fd = os.open(layout.state, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the state folder itself: the token file is replaced, not edited
        tokens = read(layout.node_tokens_file)
        yield tokens
        _write(layout.node_tokens_file, tokens)
    finally:
        os.close(fd)  # closing lets the flock go


def add(layout: Layout, name: str) -> str:
    """Make a token for `name` and return it; only its hash is kept."""
    check_name(name)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with _editing(layout) as tokens:
        if name in tokens:
            raise ConfigError(f"a node token named {name!r} exists: revoke it first to make a new one")
        tokens[name] = NodeToken(name, digest(token), datetime.now(UTC).isoformat(timespec="seconds"))
    return token


def revoke(layout: Layout, name: str) -> None:
    """Drop `name`'s token: the coordinator refuses it from its next request."""
    with _editing(layout) as tokens:
        if tokens.pop(name, None) is None:
            raise ConfigError(f"no node token named {name!r}")


def listing(layout: Layout) -> list[NodeToken]:
    return sorted(read(layout.node_tokens_file).values(), key=lambda t: t.name)


def _signature(path: Path) -> tuple[int, int, int, int] | None:
    """What changes whenever the file is replaced or edited; None when it is missing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


@dataclass(frozen=True)
class Caller:
    """Who a bearer token belongs to: the operator (project token) or one node token."""

    node_token: NodeToken | None = None

    def may_act_as(self, node: str) -> bool:
        return self.node_token is None or self.node_token.covers(node)


OPERATOR = Caller()


class Credentials:
    """Checks bearer tokens for the coordinator's API: the project token or any node token.

    Both files are read again only when their stat changed (one stat each per request), so
    a token written or revoked by `storyreel token` in another process counts at once."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._project: tuple[object, bytes] = (None, b"")
        self._nodes: tuple[object, dict[str, NodeToken]] = (None, {})

    def _project_token(self) -> bytes:
        signature = _signature(self.layout.token_file)
        if signature is None or signature != self._project[0]:
            try:
                token = self.layout.token_file.read_text(encoding="utf-8").strip().encode()
            except OSError:
                token = b""  # no project token: only node tokens can pass
            self._project = (signature, token)
        return self._project[1]

    def _node_tokens(self) -> dict[str, NodeToken]:
        """By sha256. An unreadable file counts as no node tokens, never as the old ones."""
        signature = _signature(self.layout.node_tokens_file)
        if signature != self._nodes[0]:
            try:
                by_hash = {t.sha256: t for t in read(self.layout.node_tokens_file).values()}
            except ConfigError:
                by_hash = {}
            self._nodes = (signature, by_hash)
        return self._nodes[1]

    def identify(self, presented: str) -> Caller | None:
        """The caller a token belongs to, or None when it is no valid token. The project
        token is compared in constant time; a node token is found by its hash, so timing
        tells at most something about a hash of the guess, never about a stored token."""
        if not presented:
            return None
        project = self._project_token()
        if project and hmac.compare_digest(presented.encode(), project):
            return OPERATOR
        found = self._node_tokens().get(digest(presented))
        return Caller(found) if found is not None else None
