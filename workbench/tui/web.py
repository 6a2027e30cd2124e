"""`workbench serve`: the same app in a browser, through textual-serve, behind a random token.

textual-serve (Textualize's own server) serves a page with xterm.js and, per browser
connection, runs the app in a subprocess with Textual's web driver, relaying keys and screen
updates over a websocket. It has no access control, so `TokenServer` adds one aiohttp
middleware in front of every route (the page, its static files, the websocket, downloads):

- a request must carry the token, either as `?token=` (the URL printed at start-up) or as
  the cookie that the first tokened page sets (`HttpOnly`, `SameSite=Strict`: the static
  files and the websocket the page opens carry it; another site's page cannot);
- anything else gets `403 Forbidden` and a one-line text body: no page, no script, no app.

Differences from plain `textual-serve`: it listens on 127.0.0.1 (textual-serve: localhost)
and refuses other hosts unless asked explicitly; the token; no access log (it would print
the token); the page's URLs are built from the request's Host header (validated) so that
`--port 0` and a remote `--host` work; the app runs read-only unless `--write`.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import shlex
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from textual_serve.server import Server

COOKIE = "workbench_token_{port}"
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
FORBIDDEN = "403 Forbidden: this Prompt Workbench server needs its token. Open the URL that `workbench serve` printed.\n"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def app_command(root: Path, *, write: bool) -> str:
    """The shell command textual-serve runs for each browser connection: this Python, this repository."""
    args = [sys.executable, "-m", "workbench", "ui", str(root)]
    if not write:
        args.append("--read-only")
    return shlex.join(args)


class TokenServer(Server):
    """textual-serve's `Server`, refusing every request without the token (403, nothing of the app)."""

    def __init__(self, command: str, *, host: str, port: int, token: str, sock: socket.socket | None = None) -> None:
        # A fixed title: textual-serve puts it into its page unescaped, so no repository name goes there.
        super().__init__(command, host=host, port=port, title="Prompt Workbench")
        self.token = token
        self.cookie = COOKIE.format(port=port)
        self.sock = sock

    def allowed(self, request: web.Request) -> tuple[bool, bool]:
        """(token accepted, it came in the query: set the cookie)."""
        query = request.query.get("token", "")
        if query and hmac.compare_digest(query.encode(), self.token.encode()):
            return True, True
        cookie = request.cookies.get(self.cookie, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.token.encode()), False

    @web.middleware
    async def guard(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        ok, from_query = self.allowed(request)
        if not ok:
            return web.Response(status=403, text=FORBIDDEN, headers={"Cache-Control": "no-store"})
        response = await handler(request)
        if from_query and not response.prepared:
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
        if not response.prepared:
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers.setdefault("Referrer-Policy", "no-referrer")  # the token is in the page's URL
        return response

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.insert(0, self.guard)
        return app

    async def handle_index(self, request: web.Request) -> Any:
        # The page's static and websocket URLs follow the address the browser used (a checked Host header).
        host = request.host if _HOST_RE.match(request.host or "") else f"{self.host}:{self.port}"
        self.public_url = f"http://{host}"
        return await super().handle_index(request)

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a logo and the URL without the token here; `serve` prints the URL itself."""

    def serve(self, debug: bool = False) -> None:
        self.debug = debug
        self.initialize_logging()
        web.run_app(
            self._make_app(),
            sock=self.sock,
            host=None if self.sock is not None else self.host,
            port=None if self.sock is not None else self.port,
            print=None,
            access_log=None,  # an access log would print every URL, token included
            handle_signals=True,
        )


def bind(host: str, port: int) -> socket.socket:
    """Bind first, so the printed URL names the real port (`--port 0`: any free one)."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def url_for(host: str, port: int, token: str) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/?token={token}"


def serve(root: Path, *, host: str, port: int, write: bool, echo: Callable[[str], None]) -> None:
    """Serve the app on `root` until interrupted, printing the tokened URL through `echo`."""
    token = secrets.token_urlsafe(24)
    sock = bind(host, port)
    real_port = int(sock.getsockname()[1])
    server = TokenServer(app_command(root, write=write), host=host, port=real_port, token=token, sock=sock)
    mode = "read-write (--write): the app can commit, tag, promote and push" if write else "read-only (--write allows changes)"
    echo(f"Prompt Workbench for {root} in a browser, {mode}.")
    echo(f"Open: {url_for(host, real_port, token)}")
    echo("Every request without this token is refused. Ctrl+C stops the server.")
    server.serve()
