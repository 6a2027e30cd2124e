"""`workbench serve`: nothing of the app without the token; localhost unless asked; read-only by default."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from web_helpers import Served

from workbench.cli.common import run_app


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace"), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace"), dict(err.headers)


def test_a_request_without_the_token_gets_nothing(served: Served) -> None:
    token = served.url.split("token=", 1)[1]
    for path in ("/", "/?token=", "/?token=wrong", "/static/js/textual.js", "/static/css/xterm.css", "/static/", "/ws", "/download/x"):
        status, body, _ = get(served.base + path)
        assert status == 403, path
        assert "<html" not in body.lower() and "textual" not in body.lower() and "xterm" not in body.lower(), path
        assert "needs its token" in body
    status, body, _ = get(served.base + "/static/js/textual.js", {"Cookie": "workbench_token_1=" + token})  # another port's cookie
    assert status == 403
    # The websocket that would run the app: refused at the handshake, no app process started
    async def handshake(cookie: str | None) -> int:
        headers = {"Cookie": cookie} if cookie else {}
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(served.base + "/ws", headers=headers):
                    return 101
            except aiohttp.WSServerHandshakeError as err:
                return err.status

    assert asyncio.run(handshake(None)) == 403
    assert asyncio.run(handshake("workbench_token_0=" + token)) == 403
    # With the token: the page, and a cookie that lets its static files and websocket through
    status, body, headers = get(served.url)
    assert status == 200 and "textual-terminal" in body
    port = served.base.rsplit(":", 1)[1]
    cookie = headers["Set-Cookie"]
    assert cookie.startswith(f"workbench_token_{port}={token}") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert headers.get("Referrer-Policy") == "no-referrer"
    status, body, _ = get(served.base + "/static/js/textual.js", {"Cookie": f"workbench_token_{port}={token}"})
    assert status == 200 and len(body) > 10_000


def test_serve_listens_on_localhost_unless_told_otherwise(demo_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_app(["serve", str(demo_repo), "--host", "0.0.0.0", "--port", "0"])
    _, err = capsys.readouterr()
    assert code == 2 and "--allow-remote" in err and "other machines" in err
    code = run_app(["serve", str(demo_repo / "nowhere")])
    assert code == 2


def test_the_served_app_is_read_only_unless_write(demo_repo: Path) -> None:
    from workbench.tui.web import app_command, is_loopback

    assert app_command(demo_repo, write=False).endswith("--read-only")
    assert "--read-only" not in app_command(demo_repo, write=True)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")
