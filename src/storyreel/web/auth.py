"""Who may read the dashboard, its state and /metrics.

The rule follows the address the server actually binds, not the settings: bound to
loopback only (127.0.0.0/8, ::1, localhost), everyone on this machine may. Bound beyond
loopback (0.0.0.0, ::, a LAN address), every request, from this machine too, must carry
the project token as a bearer (scripts, Prometheus) or the session cookie that the login
page sets once the token was typed in: a TLS proxy on the same host connects from
loopback on behalf of everyone. The cookie holds an HMAC of the
token, never the token itself, so a leaked cookie cannot be used to run a node.

A POST that changes something (the steering buttons) must also carry the CSRF token in
the `X-CSRF-Token` header: another HMAC of the project token, which only the dashboard
page embeds, so a page of another site cannot know it. A browser's cross-site POST
(`Sec-Fetch-Site: cross-site`, or an `Origin` naming another host) is refused outright.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.requests import Request

from storyreel.errors import ConfigError
from storyreel.netaddr import is_loopback
from storyreel.project import Project

COOKIE_NAME = "storyreel_session"
# A session lasts a working week; logging in again is one paste of the token.
COOKIE_MAX_AGE = 7 * 24 * 3600
_SESSION_LABEL = b"storyreel dashboard session v1"
_CSRF_LABEL = b"storyreel dashboard csrf v1"
CSRF_HEADER = "X-CSRF-Token"




def _on_loopback(request: Request) -> bool:
    """The connection arrived on a loopback address of this machine."""
    server = request.scope.get("server")
    return bool(server) and is_loopback(str(server[0]))


class Access:
    """Decides per request; `login_required` is False only when the server is bound to loopback."""

    def __init__(self, project: Project, login_required: bool) -> None:
        self.project = project
        self.login_required = login_required

    def session_value(self) -> str:
        return hmac.new(self.project.token.encode(), _SESSION_LABEL, hashlib.sha256).hexdigest()

    def token_ok(self, presented: str) -> bool:
        return bool(presented) and self.project.token_matches(presented)

    def allowed(self, request: Request) -> bool:
        if not self.login_required and _on_loopback(request):
            return True
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self.token_ok(credentials.strip()):
            return True
        cookie = request.cookies.get(COOKIE_NAME, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.session_value().encode())

    def csrf_value(self) -> str:
        """The CSRF token the dashboard page embeds and its POSTs send back ("" for a project
        without a token: then no POST is taken)."""
        try:
            token = self.project.token
        except ConfigError:
            return ""
        return hmac.new(token.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()

    def csrf_problem(self, request: Request) -> str | None:
        """Why a browser POST may not change anything (None: it may)."""
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return "a cross-site request may not steer the farm"
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
            return f"a request from {origin} may not steer the farm"
        presented, expected = request.headers.get(CSRF_HEADER, ""), self.csrf_value()
        if not presented or not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
            return f"the {CSRF_HEADER} header is missing or wrong: reload the dashboard"
        return None
