"""`workbench serve`: the token leaves the address bar. The printed URL carries it (`?token=`);
the first request with it gets the cookie and a small page that refreshes to the same address
without it, so the tab's address and its history entry no longer show it (a screen share,
someone behind you). A page, not a redirect: a navigation that another site's link started
stays cross-site through its redirects, and the browser would send no `SameSite=Strict` cookie
(`test_browser.py` clicks such a link); the page's own refresh is same-site."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from web_helpers import Served, fetch, refresh_target, start_server, stop_server, token_of


def test_the_token_is_exchanged_for_a_cookie_and_leaves_the_address(served: Served) -> None:
    token = token_of(served)
    port = served.base.rsplit(":", 1)[1]
    status, body, headers, cookies = fetch(served.url)
    assert status == 200 and "Location" not in headers, (status, body)
    assert headers["Content-Type"].startswith("text/html")
    target = refresh_target(body)
    assert target == served.base + "/"
    assert f'<a href="{served.base}/">' in body  # a plain link too, for a browser that does not refresh
    assert token not in body and "token=" not in body and "<script" not in body
    assert len(cookies) == 1 and cookies[0].startswith(f"workbench_token_{port}={token}")
    assert "HttpOnly" in cookies[0] and "SameSite=Strict" in cookies[0] and "Path=/" in cookies[0] and "Secure" not in cookies[0]
    assert headers.get("Referrer-Policy") == "no-referrer" and headers.get("Cache-Control") == "no-store"
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Content-Security-Policy", "").startswith("default-src 'none'")  # it loads and runs nothing
    # Following it with the cookie only: the page, no new cookie
    status, body, headers, cookies = fetch(target, {"Cookie": f"workbench_token_{port}={token}"})
    assert status == 200 and "textual-terminal" in body and not cookies
    assert headers.get("Referrer-Policy") == "no-referrer"
    # Following it without the cookie: nothing
    status, body, _, cookies = fetch(target)
    assert status == 403 and "needs its token" in body and not cookies
    # The page's other query parameters stay; every `token` goes (`tok%65n` too)
    status, body, _, _ = fetch(f"{served.base}/?fontsize=20&token={token}&tok%65n=x")
    assert status == 200 and refresh_target(body) == served.base + "/?fontsize=20"
    # The Host the browser used is where it goes back to (its cookie was set for that host)
    status, body, _, _ = fetch(served.url, {"Host": f"localhost:{port}"})
    assert status == 200 and refresh_target(body) == f"http://localhost:{port}/"
    # What the URL carries is text in an attribute: escaped, never markup
    status, body, _, _ = fetch(f'{served.base}/?a="><script>x</script>&token={token}')
    assert status == 200 and "<script" not in body and refresh_target(body) == f'{served.base}/?a="><script>x</script>'
    # One answer wherever the navigation started (typed, this page, another site): no redirect
    for site in ("none", "same-origin", "same-site", "cross-site"):
        status, body, headers, cookies = fetch(served.url, {"Sec-Fetch-Site": site, "Sec-Fetch-Mode": "navigate"})
        assert status == 200 and "Location" not in headers and len(cookies) == 1 and refresh_target(body) == served.base + "/", site
    # A wrong token: refused, no cookie, no page
    for wrong in ("wrong", token[:-1], token + "x", ""):
        status, body, headers, cookies = fetch(f"{served.base}/?token={wrong}")
        assert status == 403 and not cookies and "Location" not in headers and "refresh" not in body, wrong
    # The log has the token once: the URL printed at start-up
    assert (served.root.parent / "serve.log").read_text().count(token) == 1


def test_a_client_following_the_refresh_keeps_only_the_cookie(served: Served) -> None:
    """As a browser does it: a cookie jar, the page's refresh followed. The final address has no
    token and the page's static files and websocket go through with the cookie alone."""

    async def browse() -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.get(served.url, allow_redirects=False) as first:
                assert first.status == 200
                target = refresh_target(await first.text())
            assert "token" not in target and not parse_qsl(urlsplit(target).query)
            async with session.get(target, allow_redirects=False) as page:
                assert page.status == 200 and "textual-terminal" in await page.text()
            async with session.get(served.base + "/static/js/textual.js") as script:
                assert script.status == 200
            async with session.ws_connect(served.base.replace("http://", "ws://") + "/ws", headers={"Origin": served.base}) as ws:
                assert not ws.closed

    asyncio.run(asyncio.wait_for(browse(), 60))


def test_a_websocket_with_the_token_is_served_as_it_comes(served: Served) -> None:
    """A websocket cannot load a page: one with `?token=` (no browser's: the page's carries the
    cookie) is the app's websocket, not the exchange."""

    async def connect() -> None:
        async with aiohttp.ClientSession() as session:
            url = served.base.replace("http://", "ws://") + f"/ws?width=80&height=24&token={token_of(served)}"
            async with session.ws_connect(url, headers={"Origin": served.base}) as ws:
                message = await asyncio.wait_for(ws.receive(), 60)
                assert message.type in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT), message

    asyncio.run(asyncio.wait_for(connect(), 90))


def test_behind_a_proxy_the_refresh_names_the_public_url(demo_repo: Path) -> None:
    """Under a path prefix the browser is sent on to the public URL (the prefix kept), its cookie
    `Secure` (https) and scoped to the prefix."""
    public = "https://wb.example.test/tools/workbench"
    served = start_server(demo_repo, "--public-url", public)
    try:
        token = token_of(served)
        for host in ("wb.example.test", served.base.split("://", 1)[1]):  # a proxy passing the browser's Host, or its upstream's
            status, body, _, cookies = fetch(f"{served.base}/?token={token}&x=1", {"Host": host})
            assert status == 200 and refresh_target(body) == public + "/?x=1", host
            assert len(cookies) == 1 and "Secure" in cookies[0] and "Path=/tools/workbench/" in cookies[0] and "HttpOnly" in cookies[0]
    finally:
        stop_server(served)
