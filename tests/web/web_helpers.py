"""Helpers for the web tests: `workbench serve` as a real process on a free port of this machine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp


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
