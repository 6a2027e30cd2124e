"""`workbench serve`: the token leaves the address bar. The printed URL carries it (`?token=`);
the first request with it gets the cookie and a 303 to the same address without it, so the
tab's address and its history entry no longer show it (a screen share, someone behind you)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from web_helpers import Served, fetch, start_server, stop_server, token_of


def test_the_token_is_exchanged_for_a_cookie_and_leaves_the_address(served: Served) -> None:
    token = token_of(served)
    port = served.base.rsplit(":", 1)[1]
    status, body, headers, cookies = fetch(served.url)
    assert status == 303, (status, body)
    location = headers["Location"]
    assert token not in location and "token" not in location
    assert location == served.base + "/"
    assert token not in body
    assert len(cookies) == 1 and cookies[0].startswith(f"workbench_token_{port}={token}")
    assert "HttpOnly" in cookies[0] and "SameSite=Strict" in cookies[0] and "Path=/" in cookies[0] and "Secure" not in cookies[0]
    assert headers.get("Referrer-Policy") == "no-referrer" and headers.get("Cache-Control") == "no-store"
    # Following it with the cookie only: the page, no new cookie
    status, body, headers, cookies = fetch(location, {"Cookie": f"workbench_token_{port}={token}"})
    assert status == 200 and "textual-terminal" in body and not cookies
    assert headers.get("Referrer-Policy") == "no-referrer"
    # Following it without the cookie: nothing
    status, body, _, cookies = fetch(location)
    assert status == 403 and "needs its token" in body and not cookies
    # The page's other query parameters stay; every `token` goes
    status, _, headers, _ = fetch(f"{served.base}/?fontsize=20&token={token}&token=x")
    assert status == 303 and headers["Location"] == served.base + "/?fontsize=20"
    # The Host the browser used is where it goes back to (its cookie was set for that host)
    status, _, headers, _ = fetch(served.url, {"Host": f"localhost:{port}"})
    assert status == 303 and headers["Location"] == f"http://localhost:{port}/"
    # A wrong token: refused, no cookie, no redirect
    for wrong in ("wrong", token[:-1], token + "x", ""):
        status, body, headers, cookies = fetch(f"{served.base}/?token={wrong}")
        assert status == 403 and not cookies and "Location" not in headers, wrong
    # The log has the token once: the URL printed at start-up
    assert (served.root.parent / "serve.log").read_text().count(token) == 1


def test_a_browser_following_the_redirect_keeps_only_the_cookie(served: Served) -> None:
    """As a browser does it: a cookie jar, redirects followed. The final address has no token and
    the page's static files and websocket go through with the cookie alone."""

    async def browse() -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get(served.url) as page:
                assert page.status == 200 and "textual-terminal" in await page.text()
                assert [r.status for r in page.history] == [303]
                assert "token" not in str(page.url) and not parse_qsl(urlsplit(str(page.url)).query)
            async with session.get(served.base + "/static/js/textual.js") as script:
                assert script.status == 200
            async with session.ws_connect(served.base.replace("http://", "ws://") + "/ws", headers={"Origin": served.base}) as ws:
                assert not ws.closed

    asyncio.run(asyncio.wait_for(browse(), 60))


def test_behind_a_proxy_the_redirect_names_the_public_url(demo_repo: Path) -> None:
    """Under a path prefix the browser is sent back to the public URL (the prefix kept), its cookie
    `Secure` (https) and scoped to the prefix."""
    public = "https://wb.example.test/tools/workbench"
    served = start_server(demo_repo, "--public-url", public)
    try:
        token = token_of(served)
        for host in ("wb.example.test", served.base.split("://", 1)[1]):  # a proxy passing the browser's Host, or its upstream's
            status, _, headers, cookies = fetch(f"{served.base}/?token={token}", {"Host": host})
            assert status == 303 and headers["Location"] == public + "/", host
            assert len(cookies) == 1 and "Secure" in cookies[0] and "Path=/tools/workbench/" in cookies[0] and "HttpOnly" in cookies[0]
    finally:
        stop_server(served)
