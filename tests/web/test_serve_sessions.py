"""A served session's app process: its terminal stays a terminal's size, and it ends with its
socket and with the server (no process left behind, however busy or stubborn it is)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from web_helpers import AppSocket, Served, app_socket, start_server, stop_server, token_of

TOKEN = "t" * 32


def process_parents() -> dict[int, int]:
    """Every process's parent, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return parents


def descendants(pid: int, parents: dict[int, int] | None = None) -> set[int]:
    """Every process under `pid` (children, their children...), read from /proc."""
    parents = process_parents() if parents is None else parents
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Running (a zombie, ended but not yet reaped, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def rss_mb(pid: int) -> float:
    found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) / 1024 if found else 0.0


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def kill_left_over(pids: set[int]) -> None:
    """The processes a failing test leaves behind (before the fix, nothing else ends them)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def app_processes(served: Served) -> set[int]:
    """The session apps under the server. A process an app starts (its git) has the app's command
    line from its fork until its exec: counted as a third app, it failed a test under load."""
    parents = process_parents()
    found = {pid for pid in descendants(served.process.pid, parents) if "workbench" in _cmdline(pid) and " ui " in _cmdline(pid)}
    return {pid for pid in found if parents.get(pid) not in found}


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


async def read_for(app: AppSocket, seconds: float) -> None:
    """Read what the app draws for that long (unread, its output would stop it, and its growth)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        with contextlib.suppress(TimeoutError):
            app._take(await asyncio.wait_for(app.ws.receive(), left))


def test_a_huge_resize_is_clamped_and_the_app_ends_with_its_socket(served: Served) -> None:
    """`["resize", {"width": 100000, "height": 100000}]` made the app lay out 10^10 cells: 100% CPU,
    834 MB at 15 s, 2.4 GB at 39 s, and, too busy to read the quit message, it outlived its socket."""
    apps: set[int] = set()

    async def session() -> None:
        async with app_socket(served) as app:
            await app.wait_for("READ-ONLY", "support/")
            apps.update(app_processes(served))
            await app.ws.send_str(json.dumps(["resize", {"width": "wide", "height": None}]))  # ignored
            await app.ws.send_str(json.dumps(["resize", {"width": 100_000, "height": 100_000}]))
            await read_for(app, 8)  # a 100000-column screen never settles
            assert all(alive(pid) for pid in apps), "the app died of its resize"
            largest = max(rss_mb(pid) for pid in apps)
            assert largest < 150, f"the app grew to {largest:.0f} MB"

    try:
        asyncio.run(session())
        assert apps
        assert wait_until(lambda: not any(alive(pid) for pid in apps), 10), "the app outlived its socket"
    finally:
        kill_left_over(apps)


STUBBORN_APP = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a Textual app posts an exit message it may never read
signal.signal(signal.SIGINT, signal.SIG_IGN)
with open(sys.argv[1], "a") as pids:
    pids.write(f"{os.getpid()}\\n")
sys.stdout.write("__GANGLION__\\n")
sys.stdout.flush()
while True:
    time.sleep(1)
"""

SERVER = """
import sys
from workbench.tui.web import TokenServer, bind
sock = bind("127.0.0.1", 0)
port = sock.getsockname()[1]
print(port, flush=True)
TokenServer(sys.argv[1], host="127.0.0.1", port=port, token=sys.argv[2], sock=sock).serve()
"""


@pytest.fixture
def stubborn_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """A `TokenServer` whose app never exits on its own: it ignores the quit message and SIGTERM."""
    (tmp_path / "stubborn.py").write_text(textwrap.dedent(STUBBORN_APP))
    pids = tmp_path / "pids"
    command = f"{sys.executable} {tmp_path / 'stubborn.py'} {pids}"
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, command, TOKEN], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        yield process, f"http://127.0.0.1:{port}", pids
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        kill_left_over(app_pids(pids))


def app_pids(pids: Path) -> set[int]:
    return {int(line) for line in pids.read_text().split()} if pids.exists() else set()


async def open_session(base: str, pids: Path) -> aiohttp.ClientWebSocketResponse:
    session = aiohttp.ClientSession(cookies={f"workbench_token_{base.rsplit(':', 1)[1]}": TOKEN})
    ws = await session.ws_connect(base.replace("http://", "ws://") + "/ws", headers={"Origin": base})
    for _ in range(100):
        if app_pids(pids):
            break
        await asyncio.sleep(0.1)
    ws._workbench_session = session  # type: ignore[attr-defined]  # closed with the socket
    return ws


def test_an_app_that_ignores_quit_is_ended_when_its_socket_closes(stubborn_server: tuple[subprocess.Popen[str], str, Path]) -> None:
    _, base, pids = stubborn_server

    async def session() -> None:
        ws = await open_session(base, pids)
        await ws.close()
        await ws._workbench_session.close()  # type: ignore[attr-defined]

    asyncio.run(session())
    started = app_pids(pids)
    assert len(started) == 1
    assert wait_until(lambda: not any(alive(pid) for pid in started), 15), "the app outlived its socket"


def test_sigterm_stops_the_server_and_every_session_app(stubborn_server: tuple[subprocess.Popen[str], str, Path]) -> None:
    """SIGTERM to the server alone (not its group): the apps of the sessions still open end too, no orphans."""
    process, base, pids = stubborn_server

    async def sessions() -> None:
        sockets = [await open_session(base, pids) for _ in range(2)]
        while len(app_pids(pids)) < 2:
            await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        await asyncio.get_running_loop().run_in_executor(None, lambda: process.wait(timeout=20))
        for ws in sockets:
            await ws.close()
            await ws._workbench_session.close()  # type: ignore[attr-defined]

    asyncio.run(sessions())
    started = app_pids(pids)
    assert len(started) == 2 and process.returncode is not None
    assert wait_until(lambda: not any(alive(pid) for pid in started), 5), "an app outlived the server"


def test_the_terminal_size_a_browser_asks_for_is_a_terminals() -> None:
    from workbench.tui.web_session import terminal_size

    assert terminal_size(120, 36) == (120, 36)
    assert terminal_size(100_000, 100_000) == (500, 500)
    assert terminal_size(-5, 0) == (1, 1)
    assert all(terminal_size(*bad) is None for bad in (("wide", 24), (80, None), (True, 24), (80.5, 24), ([80], 24)))


def test_the_session_apps_end_when_the_server_is_killed(served: Served) -> None:
    """`kill -9` of `workbench serve` (no cleanup of its own runs) left its session's app running,
    orphaned, with its memory and any lock it held; the kernel now ends it with its server."""
    apps: set[int] = set()

    async def session() -> None:
        async with app_socket(served) as app:
            await app.wait_for("READ-ONLY", "support/")
            apps.update(app_processes(served))
            served.process.send_signal(signal.SIGKILL)  # the server alone, not its process group
            served.process.wait(timeout=10)

    try:
        asyncio.run(session())
        assert apps
        assert wait_until(lambda: not any(alive(pid) for pid in apps), 5), "the app outlived its killed server"
    finally:
        kill_left_over(apps)


def test_an_app_that_ignores_sigterm_ends_when_its_server_is_killed(stubborn_server: tuple[subprocess.Popen[str], str, Path]) -> None:
    process, base, pids = stubborn_server

    async def session() -> None:
        ws = await open_session(base, pids)
        process.send_signal(signal.SIGKILL)
        await asyncio.get_running_loop().run_in_executor(None, lambda: process.wait(timeout=10))
        await ws._workbench_session.close()  # type: ignore[attr-defined]

    asyncio.run(session())
    started = app_pids(pids)
    assert len(started) == 1
    assert wait_until(lambda: not any(alive(pid) for pid in started), 5), "the app outlived its killed server"


def test_the_server_runs_at_most_max_sessions_apps(demo_repo: Path) -> None:
    """Each websocket started an app process (~60 MB before it reads anything) with no limit: a
    script with the token (or a tab reloading in a loop) opened 6 in 0.2 s and could open them
    until the machine ran out of memory. Past `--max-sessions` (default 8) a handshake gets 503,
    starts nothing, and says why; a closed session frees its place."""
    served = start_server(demo_repo, "--max-sessions", "2")
    apps: set[int] = set()

    async def handshake(session: aiohttp.ClientSession) -> tuple[int, str, aiohttp.ClientWebSocketResponse | None]:
        try:
            ws = await session.ws_connect(served.base.replace("http://", "ws://") + "/ws", headers={"Origin": served.base})
        except aiohttp.WSServerHandshakeError as err:
            async with session.get(served.base + "/ws", headers={"Origin": served.base, "Connection": "Upgrade", "Upgrade": "websocket",
                                                                   "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}) as again:
                return err.status, await again.text(), None
        return 101, "", ws

    async def sessions() -> None:
        port = served.base.rsplit(":", 1)[1]
        async with aiohttp.ClientSession(cookies={f"workbench_token_{port}": token_of(served)}) as session:
            first, second = [await handshake(session) for _ in range(2)]
            assert first[0] == second[0] == 101
            assert wait_until(lambda: len(app_processes(served)) == 2, 30)
            apps.update(app_processes(served))
            status, body, _ = await handshake(session)
            assert status == 503 and "2 sessions" in body and "--max-sessions" in body, body
            assert "textual" not in body.lower()
            await asyncio.sleep(1)
            assert len(app_processes(served)) == 2  # the refused one started nothing
            assert first[2] is not None
            await first[2].close()
            for _ in range(150):  # its app ends (quit, then signals): its place is free again
                status, _, ws = await handshake(session)
                if ws is not None:
                    await ws.close()
                    break
                await asyncio.sleep(0.1)
            assert status == 101

    try:
        asyncio.run(asyncio.wait_for(sessions(), 90))
        log = (served.root.parent / "serve.log").read_text()
        assert "refused a session" in log and token_of(served) not in log.split("\n", 3)[3]
    finally:
        stop_server(served)
        kill_left_over(apps)
