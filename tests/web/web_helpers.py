"""Helpers for the web tests: `workbench serve` as a real process on a free port of this machine."""

from __future__ import annotations

import asyncio
import contextlib
import html
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from multidict import CIMultiDict


@dataclass
class Served:
    url: str  # with the token, as printed (the public URL with --public-url)
    base: str  # where it listens, without the token
    root: Path
    process: subprocess.Popen[str]


def start_server(root: Path, *extra: str) -> Served:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}  # colours for the screenshot
    # Into a file, not a pipe: a pipe nobody drains would block the server once its logs fill it.
    log = root.parent / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench", "serve", str(root), "--port", "0", *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,  # its own process group: the app processes it starts end with it
        )
    for _ in range(600):  # the server prints its URL once it listens (up to a minute)
        printed = log.read_text()
        found = re.search(r"Open: (https?://\S+)", printed)
        if found:
            url = found.group(1)
            listening = re.search(r"Listening on (http://\S+)", printed)  # printed with --public-url
            return Served(url, listening.group(1) if listening else url.split("/?", 1)[0], root, process)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    stop_server(Served("", "", root, process))
    raise AssertionError(f"workbench serve printed no URL:\n{log.read_text()}")


def stop_server(served: Served) -> None:
    try:
        os.killpg(served.process.pid, signal.SIGTERM)
        served.process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(served.process.pid, signal.SIGKILL)
        served.process.wait(timeout=5)


# --------------------------------------------------------------------------- plain HTTP, as a browser's first request
class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str], list[str]]:
    """One request, no redirect followed: status, body, headers, every Set-Cookie."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace"), dict(response.headers), response.headers.get_all("Set-Cookie") or []
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace"), dict(err.headers), err.headers.get_all("Set-Cookie") or []


_REFRESH = re.compile(r'<meta http-equiv="refresh" content="0;url=([^"]*)">')


def refresh_target(body: str) -> str:
    """Where the page a tokened request gets sends the browser (its `<meta http-equiv="refresh">`)."""
    found = _REFRESH.search(body)
    assert found, body
    return html.unescape(found.group(1))


def open_page(url: str, headers: dict[str, str] | None = None, *, prefix: str = "") -> tuple[int, str, dict[str, str], str]:
    """The printed (tokened) URL as a browser opens it: its answer sets the cookie and refreshes to
    the same address without the token; the page comes from there with that cookie alone. Returns
    the page's status, body, headers and the cookie as set (its attributes included). The refresh's
    URL is asked of the same server (`url`'s address), with the same headers, minus the proxy's path
    `prefix`: a public URL names a proxy that is not there."""
    status, body, _, cookies = fetch(url, headers)
    assert status == 200 and len(cookies) == 1, (status, body)
    target = refresh_target(body)
    location = urlsplit(target)
    assert "token" not in location.query, target
    assert location.path.startswith(prefix + "/"), target
    again = urlsplit(url)._replace(path=location.path[len(prefix) :], query=location.query).geturl()
    cookie = cookies[0].split(";", 1)[0]
    status, body, page, _ = fetch(again, (headers or {}) | {"Cookie": cookie})
    return status, body, page, cookies[0]


# --------------------------------------------------------------------------- another site linking to the app
@contextlib.contextmanager
def linking_site(target: str) -> Iterator[str]:
    """A plain HTTP server on a free port of this machine whose page links to `target`; yields the
    page's URL on `localhost` (another site than `127.0.0.1`: a web chat, a docs page, a README)."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f'<!doctype html><title>elsewhere</title><a id="app" href="{html.escape(target)}">the app</a>'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test's output is the test's."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# --------------------------------------------------------------------------- the app over its websocket
# What the browser's xterm.js would draw, minus the drawing: control sequences removed, text kept.
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


class AppSocket:
    """One browser connection to a served app, without a browser: keys in, screen text out.

    The page's websocket protocol (textual-serve's `textual.js`): `["stdin", keys]` and
    `["resize", {...}]` in; the app's terminal output as binary frames out.
    """

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.text = ""  # everything the app drew so far, control sequences removed
        self.seen = 0  # `wait_for` looks only at what came after the previous wait

    async def press(self, *keys: str) -> None:
        for key in keys:
            await self.ws.send_str(json.dumps(["stdin", key]))

    async def settle(self, quiet_s: float = 0.5, timeout_s: float = 60) -> None:
        """Read until the app draws nothing for `quiet_s` (a frame is one write: the rest of a
        screen that a `wait_for` matched the start of arrives before the next key)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while asyncio.get_running_loop().time() < deadline:
            try:
                message = await asyncio.wait_for(self.ws.receive(), quiet_s)
            except TimeoutError:
                break
            self._take(message)
        self.seen = len(self.text)

    def _take(self, message: Any) -> None:
        if message.type == aiohttp.WSMsgType.BINARY:
            self.text += _CONTROL.sub("", message.data.decode("utf-8", "replace"))
        elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            raise AssertionError(f"the app's websocket closed\n{self.text[-4000:]}")

    async def wait_for(self, *texts: str, timeout_s: float = 60) -> str:
        """Read the app's output until every text has been drawn since the previous wait."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not all(t in self.text[self.seen :] for t in texts):
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(self.ws.receive(), max(left, 0.01))
            except TimeoutError:
                raise AssertionError(f"never drawn: {texts!r}\n--- since the last wait ---\n{self.text[self.seen :][-4000:]}") from None
            self._take(message)
        drawn = self.text[self.seen :]
        self.seen = len(self.text)
        return drawn


def token_of(served: Served) -> str:
    return served.url.split("token=", 1)[1]


def cookie_of(served: Served) -> str:
    return f"workbench_token_{served.base.rsplit(':', 1)[1]}={token_of(served)}"


@contextlib.asynccontextmanager
async def app_socket(served: Served, *, width: int = 120, height: int = 36) -> AsyncIterator[AppSocket]:
    """The websocket the served page opens, with its cookie and its Origin, as Chromium sends them."""
    headers = {"Cookie": cookie_of(served), "Origin": served.base}
    async with aiohttp.ClientSession() as session:
        url = served.base.replace("http://", "ws://", 1) + f"/ws?width={width}&height={height}"
        async with session.ws_connect(url, headers=headers) as ws:
            yield AppSocket(ws)


# --------------------------------------------------------------------------- a reverse proxy with a path prefix
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "content-length", "host", "te", "trailer"}


@contextlib.contextmanager
def prefix_proxy(prefix: str) -> Iterator[PrefixProxy]:
    """A reverse proxy on a free port serving its upstream under `prefix` and stripping it, as
    nginx's `location /prefix/ { proxy_pass http://upstream/; }` with websocket upgrades does.
    It passes its upstream's Host, the browser's cookies and Origin. Set `upstream` before use."""
    proxy = PrefixProxy(prefix)
    thread = threading.Thread(target=proxy.run, daemon=True)
    thread.start()
    proxy.ready.wait(10)
    try:
        yield proxy
    finally:
        proxy.loop.call_soon_threadsafe(proxy.loop.stop)
        thread.join(10)


class PrefixProxy:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.upstream = ""
        self.port = 0
        self.requests: list[str] = []  # every path asked for, as the browser sent it
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(app)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = int(runner.addresses[0][1])
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        if not request.path.startswith(self.prefix + "/"):
            return web.Response(status=404, text="not under the prefix")
        target = self.upstream + request.path_qs[len(self.prefix) :]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP and not k.lower().startswith("sec-websocket")}
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await self._websocket(request, target, headers)
        async with aiohttp.ClientSession(auto_decompress=False) as session, session.request(
            request.method, target, headers=headers, data=await request.read(), allow_redirects=False
        ) as answer:
            body = await answer.read()
            passed = CIMultiDict((k, v) for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP)
            return web.Response(status=answer.status, body=body, headers=passed)

    async def _websocket(self, request: web.Request, target: str, headers: dict[str, str]) -> web.StreamResponse:
        async with aiohttp.ClientSession() as session:
            try:
                upstream = await session.ws_connect(target.replace("http", "ws", 1), headers=headers)
            except aiohttp.WSServerHandshakeError as err:
                return web.Response(status=err.status)
            browser = web.WebSocketResponse()
            await browser.prepare(request)

            async def pump(source: Any, sink: Any) -> None:
                async for message in source:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        await sink.send_str(message.data)
                    elif message.type == aiohttp.WSMsgType.BINARY:
                        await sink.send_bytes(message.data)
                await sink.close()

            await asyncio.gather(pump(browser, upstream), pump(upstream, browser), return_exceptions=True)
            return browser
