"""`workbench serve`: the same app in a browser, through textual-serve, behind a random token.

textual-serve (Textualize's own server) serves a page with xterm.js and, per browser
connection, runs the app in a subprocess with Textual's web driver, relaying keys and screen
updates over a websocket. It has no access control, so `TokenServer` adds one aiohttp
middleware in front of every route (the page, its static files, the websocket, downloads):

- the `Host` header must name the address it listens on (or the `--public-url`): anything
  else gets `421 Misdirected Request` (DNS rebinding: another site's name pointed at 127.0.0.1
  reaches the port, but its requests carry that name);
- a request must carry the token, either as `?token=` (the URL printed at start-up) or as
  the cookie that a tokened request gets (`HttpOnly`, `SameSite=Strict`: the static files and
  the websocket the page opens carry it; another site's page cannot). A tokened request gets
  the cookie and a tiny page (`web_page.exchange_page`) whose 0-second `<meta refresh>` opens
  the same address without the token, nothing else: the tab's address bar and history entry
  never show the token (a screen share, someone looking on). Not a `303`: a navigation that
  another site's link started (a chat, a docs page) stays cross-site through its redirects,
  so the browser sent the `Strict` cookie to none of them (403); the page's own refresh is
  same-site and carries it;
- the websocket that runs the app must come from the page's own origin (`Origin` header):
  every port of 127.0.0.1 is the same "site" for cookies, so a page of another local server
  would send the cookie; its websocket gets `403 Forbidden`;
- anything else gets `403 Forbidden` and a one-line text body: no page, no script, no app.

Differences from plain `textual-serve`: it listens on 127.0.0.1 (textual-serve: localhost)
and refuses other hosts unless asked explicitly; the token, the Host and Origin checks; no
access log (it would print the token) and errors logged in one line, no traceback (`OneLineLog`);
each browser session's app sized and ended for sure (`web_session.py`); the page's URLs are
built from the checked Host header (so that `--port 0`, `localhost` and a remote `--host` work)
or from `--public-url` behind a proxy; the app runs read-only unless `--write`; the page loads
nothing from another host (`web_page.py`: textual-serve's page asks Google Fonts for its font).
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import re
import secrets
import shlex
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import aiohttp_jinja2
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from textual_serve.server import Server, log, to_int

from workbench.core.safe_text import one_line
from workbench.tui.web_page import EXCHANGE_POLICY, OfflineTemplates, content_security_policy, exchange_page
from workbench.tui.web_session import SessionService

COOKIE = "workbench_token_{port}"
_HOST_RE = re.compile(r"^(?P<name>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>[0-9]{1,5}))?$")
FORBIDDEN = "403 Forbidden: this Prompt Workbench server needs its token. Open the URL that `workbench serve` printed, with cookies allowed for this address (the token becomes one).\n"
CROSS_ORIGIN = "403 Forbidden: the app's websocket opens only from the page of this Prompt Workbench server (Origin).\n"
TOO_MANY = (
    "503 Service Unavailable: this Prompt Workbench server already runs {count} sessions, the most it runs (--max-sessions). "
    "Close one of its tabs, then reload this one.\n"
)
MAX_SESSIONS = 8  # each session is an app process (60-150 MB): a script with the token must not open them by the hundred
MISDIRECTED = "421 Misdirected Request: this Prompt Workbench server answers to {names} only (Host). Behind a proxy, pass --public-url.\n"
DEFAULT_PORTS = {"http": 80, "https": 443}


def _authority(name: str, port: int, default: int | None = None) -> str:
    """`name:port` as a Host header or an origin writes it (no port when it is the scheme's default)."""
    shown = f"[{name}]" if ":" in name and not name.startswith("[") else name
    return shown.lower() if port == default else f"{shown.lower()}:{port}"


def parse_public_url(url: str) -> str:
    """`--public-url`: where browsers reach the proxy in front, `http(s)://host[:port][/prefix]`.

    A path is the prefix the proxy serves the app under (stripping it before passing requests
    on): the page's static, download and websocket URLs carry it, and the token's cookie is
    sent to that path only (not to the other apps behind the same host).

    Raises:
        ValueError: anything else (a query, credentials, another scheme, a path with empty or
            dot segments or characters other than letters, digits and `-._~`).
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        raise ValueError("it must be http(s)://HOST[:PORT], with a /PATH if the proxy serves the app under one")
    if parts.query or parts.fragment:
        raise ValueError("it must name where the app is served, without a query or fragment")
    prefix = parts.path.rstrip("/")
    if prefix and not _PREFIX.fullmatch(prefix):
        raise ValueError("its path must be a prefix such as /tools/workbench (letters, digits and -._~ between slashes)")
    default = DEFAULT_PORTS[parts.scheme]
    return f"{parts.scheme}://{_authority(parts.hostname, parts.port or default, default)}{prefix}"


# Path segments a proxy and a browser cannot read differently: no `.`/`..`, nothing to encode.
_PREFIX = re.compile(r"(?:/(?!\.\.?(?:/|$))[A-Za-z0-9._~-]+)+")


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL `parse_public_url` returned (what a browser's `Origin` says)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class HostRule:
    """Which `Host` headers name this server, and the page origin each one implies.

    - the address it is bound to, with its port (and `localhost` for a loopback address);
    - bound to every address (`0.0.0.0`, `::`), any IP literal: an IP cannot be re-bound to
      another machine by DNS, and the browser's origin is then that IP (as Vite and
      webpack-dev-server allow); a name needs `--public-url`;
    - the name given as `--host`, when it is one;
    - the host of `--public-url` (a proxy passing the browser's Host); a proxy passing its
      upstream's address is covered by the first rule.
    """

    def __init__(self, host: str, bound: str, port: int, public_origin: str | None) -> None:
        self.port = port
        self.public_origin = public_origin
        self.names = {bound.strip("[]").lower(), host.strip("[]").lower()}
        if bound in ("127.0.0.1", "::1"):
            self.names.add("localhost")
        self.any_ip = bound in ("0.0.0.0", "::")
        self.public = urlsplit(public_origin) if public_origin else None

    def describe(self) -> str:
        shown = sorted(_authority(name, self.port) for name in self.names if name not in ("0.0.0.0", "::"))
        if self.any_ip:
            shown.append(f"any IP address:{self.port}")
        if self.public_origin:
            shown.append(self.public_origin)
        return ", ".join(f"http://{name}" if "://" not in name else name for name in shown)

    def origin_for(self, host_header: str) -> str | None:
        """The origin of the page served for this Host header (None: not this server)."""
        found = _HOST_RE.match(host_header or "")
        if not found:
            return None
        name = found.group("name").strip("[]").lower()
        port = found.group("port")
        if self.public is not None and name == (self.public.hostname or "").lower():
            default = DEFAULT_PORTS[self.public.scheme]
            if int(port or default) == (self.public.port or default):
                return self.public_origin
        if int(port or 80) != self.port:
            return None
        if name in self.names or (self.any_ip and _is_ip(name)):
            return f"http://{_authority(name, self.port, 80)}"
        return None


def without_token(request: web.Request) -> str:
    """The request's path and query as the browser sent them, minus every `token` parameter
    (however its name is encoded: `tok%65n` is `token` to `request.query`)."""
    kept = [part for part in request.rel_url.raw_query_string.split("&") if part and unquote_plus(part.split("=", 1)[0]) != "token"]
    return request.rel_url.raw_path + ("?" + "&".join(kept) if kept else "")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
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


class OneLineLog(logging.Formatter):
    """A log record as one line: its message and its error's type and first line; never a traceback,
    never the token. textual-serve's log (Rich tracebacks with local variables) printed 40-120 lines
    for a request without a Host header or a websocket message that was not JSON, one of its
    variables the raw request, `GET /?token=<the token>`."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def format(self, record: logging.LogRecord) -> str:
        message = one_line(record.getMessage())
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            # aiohttp's parser errors go on with the request's bytes after their first line
            detail = one_line(error.message if isinstance(error, HttpProcessingError) else str(error))
            message += f" ({type(error).__name__}{': ' + detail if detail and detail != message else ''})"
        return redact(f"{record.levelname} {message}", self.token)


# `?token=...` and the `workbench_token_PORT=...` cookie, whatever follows (the whole token or a cut part)
_TOKEN_VALUE = re.compile(r"(token(?:_[0-9]+)?=)[^\s&;'\"]+", re.IGNORECASE)
TOKEN_PART = 6  # a run of the token's first characters this long is a part of it


def redact(text: str, token: str) -> str:
    """`text` without the token, nor any part of it: aiohttp quotes the first 100 bytes of a request
    line or header too long, cut (`...&token=gOd_oLCYm4ZPt5cWCgsDmNIW1Tbu8...`: 29 of 32 characters)."""
    text = _TOKEN_VALUE.sub(r"\1<token>", text.replace(token, "<token>"))
    head, kept, start = token[:TOKEN_PART], [], 0
    while (found := text.find(head, start)) >= 0:
        end = found + TOKEN_PART
        while end < len(text) and end - found < len(token) and text[end] == token[end - found]:
            end += 1
        kept.append(text[start:found] + "<token>")
        start = end
    return "".join(kept) + text[start:]


class TokenServer(Server):
    """textual-serve's `Server`, refusing every request without the token (403, nothing of the app),
    naming another host (421) or, for the app's websocket, coming from another origin (403)."""

    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        token: str,
        sock: socket.socket | None = None,
        public_url: str | None = None,
        max_sessions: int = MAX_SESSIONS,
    ) -> None:
        # A fixed title: textual-serve puts it into its page unescaped, so no repository name goes there.
        super().__init__(command, host=host, port=port, title="Prompt Workbench", public_url=public_url)
        self.token = token
        self.cookie = COOKIE.format(port=port)
        self.sock = sock
        bound = str(sock.getsockname()[0]) if sock is not None else host
        # Behind a proxy every page is the public URL's: its origin for the websocket's `Origin`
        # check and the CSP, the whole URL (a path prefix too) for the page's own URLs.
        self.fixed_public_url = public_url
        self.public_origin = origin_of(public_url) if public_url else None
        self.cookie_path = (urlsplit(public_url).path if public_url else "") + "/"
        self.hosts = HostRule(host, bound, port, self.public_origin)
        self.sessions: set[SessionService] = set()  # the apps running, ended with the server
        self.max_sessions = max_sessions
        self.open_sockets = 0  # the app websockets being served (counted before their first await)

    def allowed(self, request: web.Request) -> tuple[bool, bool]:
        """(token accepted, it came in the query: set the cookie)."""
        query = request.query.get("token", "")
        if query and hmac.compare_digest(query.encode(), self.token.encode()):
            return True, True
        cookie = request.cookies.get(self.cookie, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self.token.encode()), False

    def _exchange(self, request: web.Request, page_origin: str) -> web.Response:
        """The answer to a tokened request: the cookie, and a page that opens the same address without
        the token (the page's URL as the browser names it, behind a proxy its public URL with the
        prefix). Not a redirect: a navigation another site started stays cross-site through its
        redirects, and the browser sends no `SameSite=Strict` cookie with it (403)."""
        page = exchange_page(request["page_url"] + without_token(request))
        headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
        headers["Content-Security-Policy"] = EXCHANGE_POLICY
        response = web.Response(text=page, content_type="text/html", headers=headers)
        # Secure behind an https --public-url: never sent to an http:// URL of that host (in clear)
        secure = page_origin.startswith("https://")
        response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path=self.cookie_path, secure=secure)
        return response

    @staticmethod
    def _refuse(status: int, text: str) -> web.Response:
        return web.Response(status=status, text=text, headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})

    @web.middleware
    async def guard(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        origin = self.hosts.origin_for(request.headers.get("Host", ""))
        if origin is None:
            return self._refuse(421, MISDIRECTED.format(names=self.hosts.describe()))
        ok, from_query = self.allowed(request)
        if not ok:
            return self._refuse(403, FORBIDDEN)
        page_origin = self.public_origin or origin
        websocket = request.path == "/ws" or request.headers.get("Upgrade", "").lower() == "websocket"
        if websocket and request.headers.get("Origin") != page_origin:
            return self._refuse(403, CROSS_ORIGIN)
        request["page_origin"] = page_origin
        request["page_url"] = self.fixed_public_url or origin
        # A websocket cannot load a page: one with `?token=` (no browser's) is served as it comes.
        response = self._exchange(request, page_origin) if from_query and not websocket else await handler(request)
        if not response.prepared:
            response.headers.setdefault("Cache-Control", "no-store")
            response.headers.setdefault("Referrer-Policy", "no-referrer")  # no page URL goes to another site
        return response

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.insert(0, self.guard)
        # textual-serve's own template, minus what it loads from other hosts (web_page.py)
        aiohttp_jinja2.get_env(app).loader = OfflineTemplates(self.templates_path, self.statics_path)
        return app

    async def handle_index(self, request: web.Request) -> Any:
        # The page's static and websocket URLs: the public URL behind a proxy, else the origin
        # the browser used (the Host header the guard checked). textual-serve reads
        # `self.public_url` before its first await, so concurrent pages cannot mix them up.
        self.public_url = request["page_url"]
        response = await super().handle_index(request)
        response.headers["Content-Security-Policy"] = content_security_policy(request["page_origin"])
        return response

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a logo and the URL without the token here; `serve` prints the URL itself."""

    async def on_shutdown(self, app: web.Application) -> None:
        """Every session's app ends with the server (textual-serve left them running, orphaned)."""
        await asyncio.gather(*(session.stop() for session in list(self.sessions)))

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's handler, running the app as a `SessionService` (sized, sure to end), known
        to `on_shutdown` while it runs; at most `max_sessions` at a time (503 past that, nothing started)."""
        if self.open_sockets >= self.max_sessions:
            log.warning("refused a session: %d are open, the most this server runs (--max-sessions)", self.open_sockets)
            headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Retry-After": "10"}
            raise web.HTTPServiceUnavailable(text=TOO_MANY.format(count=self.max_sessions), headers=headers)
        self.open_sockets += 1
        try:
            return await self._session(request)
        finally:
            self.open_sockets -= 1

    async def _session(self, request: web.Request) -> web.WebSocketResponse:
        websocket = web.WebSocketResponse(heartbeat=15)
        session: SessionService | None = None

        async def close() -> None:
            await websocket.close()

        try:
            await websocket.prepare(request)
            session = SessionService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            self.sessions.add(session)
            await session.start(to_int(request.query.get("width", "80"), 80), to_int(request.query.get("height", "24"), 24))
            await self._process_messages(websocket, session)
        except asyncio.CancelledError:
            await websocket.close()
            raise
        except Exception as error:
            log.exception(error)
        finally:
            if session is not None:
                await session.stop()
                self.sessions.discard(session)
        return websocket

    def initialize_logging(self) -> None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(OneLineLog(self.token))
        logging.basicConfig(level=logging.DEBUG if self.debug else logging.INFO, handlers=[handler], force=True)

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
            shutdown_timeout=10,  # for the sockets still open: their apps end in `on_shutdown` (5 s at most)
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


def serve(
    root: Path,
    *,
    host: str,
    port: int,
    write: bool,
    echo: Callable[[str], None],
    public_url: str | None = None,
    max_sessions: int = MAX_SESSIONS,
) -> None:
    """Serve the app on `root` until interrupted, printing the tokened URL through `echo`."""
    token = secrets.token_urlsafe(24)
    sock = bind(host, port)
    real_port = int(sock.getsockname()[1])
    command = app_command(root, write=write)
    server = TokenServer(command, host=host, port=real_port, token=token, sock=sock, public_url=public_url, max_sessions=max_sessions)
    mode = "read-write (--write): the app can commit, tag, promote and push" if write else "read-only (--write allows changes)"
    echo(f"Prompt Workbench for {root} in a browser, {mode}.")
    here = f"http://{_authority(host, real_port)}"
    if public_url:
        echo(f"Listening on {here} (the proxy's upstream)")
    echo(f"Open: {public_url or here}/?token={token}")
    echo("Every request without this token is refused. Ctrl+C stops the server.")
    server.serve()
