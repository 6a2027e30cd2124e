"""`workbench serve`: nothing of the app without the token; localhost unless asked; read-only by default."""

from __future__ import annotations

import asyncio
import re
import socket
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from web_helpers import Served, app_socket, cookie_of, fetch, open_page, start_server, stop_server, token_of

from workbench.cli.common import run_app


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    """One request (a redirect is an answer, not followed)."""
    status, body, answer, _ = fetch(url, headers)
    return status, body, answer


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
    # With the token: a cookie that lets the page, its static files and websocket through
    status, body, headers, cookie = open_page(served.url)
    assert status == 200 and "textual-terminal" in body
    port = served.base.rsplit(":", 1)[1]
    assert cookie.startswith(f"workbench_token_{port}={token}") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # a browser would not send it back over this plain-http origin
    assert headers.get("Referrer-Policy") == "no-referrer"
    status, body, _ = get(served.base + "/static/js/textual.js", {"Cookie": f"workbench_token_{port}={token}"})
    assert status == 200 and len(body) > 10_000


def test_bad_input_is_logged_in_one_line_without_the_token(served: Served) -> None:
    """A request without a Host header, or a websocket message that is not JSON, printed a 40-120-line
    Rich traceback with its local variables, one of them the raw request: `GET /?token=<the token>`."""
    token = token_of(served)
    with socket.create_connection(("127.0.0.1", int(served.base.rsplit(":", 1)[1])), timeout=30) as raw:
        raw.sendall(f"GET /?token={token} HTTP/1.1\r\nConnection: close\r\n\r\n".encode())
        assert raw.recv(4096).split(b" ", 2)[1] == b"400"

    async def not_json() -> None:
        async with app_socket(served) as app:
            await app.wait_for("READ-ONLY")
            await app.ws.send_str("not json")
            async for _ in app.ws:  # the session ends: its socket closes
                pass

    asyncio.run(asyncio.wait_for(not_json(), 60))
    log = served.root.parent / "serve.log"
    deadline = time.monotonic() + 15
    while "JSONDecodeError" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    printed = log.read_text()
    assert printed.count(token) == 1, printed  # the URL printed at start-up, nowhere else
    errors = printed.splitlines()[3:]  # after the three lines of the banner
    assert len(errors) == 2, printed
    assert "BadHttpMessage" in errors[0] and "Host" in errors[0], printed
    assert "JSONDecodeError" in errors[1], printed
    assert "Traceback" not in printed and "locals" not in printed and "GET /" not in printed


def test_a_line_too_long_logs_no_part_of_the_token(served: Served) -> None:
    """aiohttp's error for a request line or header over 8,190 bytes quotes the line's first 100
    bytes, cut: `?token=gOd_oLCYm4ZPt5cWCgsDmNIW1Tbu8...`, 29 of the 32 characters in the log,
    which replaced only the whole token. A browser sends such a Cookie header when other apps
    on localhost have left enough cookies; the token's cookie may sit anywhere in it."""
    token = token_of(served)
    port = int(served.base.rsplit(":", 1)[1])
    host = f"127.0.0.1:{port}"
    for pad in range(30, 100, 7):
        for request in (
            f"GET / HTTP/1.1\r\nHost: {host}\r\nCookie: a={'x' * pad}; workbench_token_{port}={token}; b={'B' * 9000}\r\n",
            f"GET /?a={'x' * pad}&token={token}&b={'B' * 9000} HTTP/1.1\r\nHost: {host}\r\n",
            f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Pad: {'x' * pad}{token}{'B' * 9000}\r\n",
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
                raw.sendall((request + "Connection: close\r\n\r\n").encode())
                assert raw.recv(4096).split(b" ", 2)[1] == b"400"
    log = served.root.parent / "serve.log"
    deadline = time.monotonic() + 15
    while log.read_text().count("LineTooLong") < 30 and time.monotonic() < deadline:
        time.sleep(0.1)
    errors = log.read_text().split("\n", 3)[3]  # after the banner, which prints the URL
    assert errors.count("LineTooLong") == 30, errors
    leaked = [token[i : i + 6] for i in range(len(token) - 5) if token[i : i + 6] in errors]
    assert not leaked, errors


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


async def handshake(base: str, headers: dict[str, str]) -> int:
    """The status of a websocket handshake on /ws (101: accepted, then closed at once)."""
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(base + "/ws", headers=headers):
                return 101
        except aiohttp.WSServerHandshakeError as err:
            return err.status


def test_a_request_naming_another_host_is_refused(served: Served) -> None:
    """DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 sends `Host: evil.example:PORT`."""
    port = int(served.base.rsplit(":", 1)[1])
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.nip.io:{port}", f"localhost.evil.example:{port}", f"127.0.0.1:{port + 1}", "127.0.0.1"):
        status, body, _ = get(served.url, {"Host": host})
        assert status == 421, host
        assert "Misdirected" in body and f"http://127.0.0.1:{port}" in body and "textual" not in body.lower(), host
    status, body, _ = get(served.base + "/static/js/textual.js", {"Host": f"evil.example:{port}", "Cookie": cookie_of(served)})
    assert status == 421
    assert asyncio.run(handshake(served.base, {"Host": f"evil.example:{port}", "Cookie": cookie_of(served), "Origin": f"http://evil.example:{port}"})) == 421
    # The names of the address it listens on: the page's URLs follow the one the browser used
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LocalHost:{port}"):
        status, body, _, _ = open_page(served.url, {"Host": host})
        assert status == 200, host
        assert f'data-session-websocket-url="ws://{host.lower()}/ws"' in body


def test_a_websocket_opened_by_another_origin_is_refused(served: Served) -> None:
    """The token cookie is `SameSite=Strict`, but every port of 127.0.0.1 is the same site: a page
    of another local server would send it. Only the page's own origin may open the app."""
    port = int(served.base.rsplit(":", 1)[1])
    cookie = cookie_of(served)
    for origin in (None, "null", "http://evil.example", f"http://127.0.0.1:{port + 1}", f"https://127.0.0.1:{port}", f"http://localhost:{port}"):
        headers = {"Cookie": cookie} | ({"Origin": origin} if origin else {})
        assert asyncio.run(handshake(served.base, headers)) == 403, origin
    assert asyncio.run(handshake(served.base, {"Cookie": cookie, "Origin": served.base})) == 101
    local = f"http://localhost:{port}"
    assert asyncio.run(handshake(local, {"Cookie": cookie, "Origin": local})) == 101  # the page opened as localhost


def test_behind_a_proxy_the_public_url_names_the_page(demo_repo: Path) -> None:
    public = "https://wb.example.test"
    served = start_server(demo_repo, "--public-url", public + "/")
    try:
        assert served.url.startswith(public + "/?token=")
        token = token_of(served)
        local = served.base
        port = int(local.rsplit(":", 1)[1])
        # A proxy that passes the browser's Host, and one that passes its upstream's: the page names the public URL
        for host in ("wb.example.test", "wb.example.test:443", f"127.0.0.1:{port}"):
            status, body, _, set_cookie = open_page(f"{local}/?token={token}", {"Host": host})
            assert status == 200, host
            assert 'data-session-websocket-url="wss://wb.example.test/ws"' in body and f"{public}/static/" in body
            # The browser sees https: the token's cookie is Secure, never sent to http://wb.example.test
            # (a port-80 redirect, a typed http:// URL) where anyone on the network would read it.
            assert "Secure" in set_cookie and "HttpOnly" in set_cookie, host
        status, _, _ = get(f"{local}/?token={token}", {"Host": "wb.example.test:8443"})
        assert status == 421
        cookie = f"workbench_token_{port}={token}"
        assert asyncio.run(handshake(local, {"Host": "wb.example.test", "Cookie": cookie, "Origin": public})) == 101
        assert asyncio.run(handshake(local, {"Host": "wb.example.test", "Cookie": cookie, "Origin": "http://wb.example.test"})) == 403
        assert asyncio.run(handshake(local, {"Cookie": cookie, "Origin": local})) == 403  # not the page's origin here
    finally:
        stop_server(served)


def test_behind_a_proxy_under_a_path_the_page_names_the_prefix(demo_repo: Path) -> None:
    """A proxy serving the app under `/tools/workbench` (and stripping it): every URL of the page
    carries the prefix, and the token's cookie is sent to that path only, not to the other apps
    of the same host."""
    public = "https://wb.example.test/tools/workbench"
    served = start_server(demo_repo, "--public-url", public + "/")
    try:
        assert served.url.startswith(public + "/?token=")
        token = token_of(served)
        local = served.base
        status, body, headers, set_cookie = open_page(f"{local}/?token={token}", {"Host": "wb.example.test"}, prefix="/tools/workbench")
        assert status == 200
        assert 'data-session-websocket-url="wss://wb.example.test/tools/workbench/ws"' in body and f"{public}/static/" in body
        assert "Path=/tools/workbench/" in set_cookie
        assert "Secure" in set_cookie  # https: never sent over plain http
        assert "connect-src 'self' wss://wb.example.test" in headers["Content-Security-Policy"]
        cookie = f"workbench_token_{int(local.rsplit(':', 1)[1])}={token}"
        # The browser's Origin header is the origin alone, never the path.
        assert asyncio.run(handshake(local, {"Host": "wb.example.test", "Cookie": cookie, "Origin": "https://wb.example.test"})) == 101
        assert asyncio.run(handshake(local, {"Host": "wb.example.test", "Cookie": cookie, "Origin": public})) == 403
    finally:
        stop_server(served)


@pytest.mark.parametrize(
    "url",
    ["ftp://wb.example.test", "wb.example.test", "https://", "https://wb.example.test/?q=1", "https://u:p@wb.example.test",
     "https://wb.example.test/a/../b", "https://wb.example.test/a//b", "https://wb.example.test/a b", "https://wb.example.test/#x"],
)
def test_a_public_url_is_an_origin(demo_repo: Path, url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(["serve", str(demo_repo), "--port", "0", "--public-url", url]) == 2
    assert "--public-url" in capsys.readouterr().err


_REFERENCES = (
    re.compile(r"""\b(?:src|href|data-session-websocket-url)\s*=\s*["']([^"']*)["']""", re.I),
    re.compile(r"""url\(\s*["']?([^"')]+)""", re.I),
    re.compile(r"""@import\s+(?:url\()?\s*["']?([^"');\s]+)""", re.I),
)
SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # a name in the inline SVG, never fetched


def references(text: str) -> list[str]:
    return [ref for pattern in _REFERENCES for ref in pattern.findall(text)]


def test_the_page_loads_nothing_from_another_host(served: Served) -> None:
    """No font, stylesheet or script from another host (textual-serve's page loads Google Fonts):
    the tool works offline and tells no one that it runs."""
    host = served.base.split("://", 1)[1]
    status, page, headers, _ = open_page(served.url)
    assert status == 200
    cookie = {"Cookie": cookie_of(served)}
    stylesheets = [ref for ref in references(page) if ref.endswith(".css")]
    assert stylesheets, page
    texts = {"page": page}
    for ref in stylesheets:
        status, css, _ = get(ref if "://" in ref else served.base + ref, cookie)
        assert status == 200, ref
        texts[ref] = re.sub(r"/\*.*?\*/", "", css, flags=re.S)  # comments fetch nothing (xterm.css credits term.js by URL)
    for where, text in texts.items():
        for ref in references(text):
            if not ref.startswith("data:"):
                assert urlsplit(ref).netloc in ("", host), f"{where} references {ref}"
        for absolute in re.findall(r"""(?:https?|wss?)://[^\s"'<>)]+""", text):
            assert absolute == SVG_NAMESPACE or urlsplit(absolute).netloc == host, f"{where} names {absolute}"
    assert "googleapis" not in page and "gstatic" not in page
    # The font the terminal asks for ('Roboto Mono') comes from the installed package, through the token
    fonts = [ref for ref in references(page) if ref.endswith(".ttf")]
    assert fonts, page
    for ref in fonts:
        request = urllib.request.Request(ref if "://" in ref else served.base + ref, headers=cookie)
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200 and response.read(4) == b"\x00\x01\x00\x00"  # a TrueType file
    # And the browser is told so: nothing but this server may be fetched or connected to
    policy = headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in policy and "font-src 'self'" in policy and "connect-src 'self'" in policy


def test_a_template_that_would_still_fetch_from_another_host_stops_the_page(tmp_path: Path) -> None:
    from workbench.tui.web_page import offline_page

    statics = tmp_path / "static"
    (statics / "fonts").mkdir(parents=True)
    page = offline_page('<head><link rel="preconnect" href="//fonts.gstatic.com"><link rel="stylesheet" href="https://cdn.example/x.css"/></head>', statics)
    assert "gstatic" not in page and "cdn.example" not in page and "@font-face" not in page  # no font installed: the terminal's fallbacks
    (statics / "fonts" / "RobotoMono-VariableFont_wght.ttf").write_bytes(b"\x00\x01\x00\x00")
    assert 'font-family: "Roboto Mono"' in offline_page("<head></head>", statics)
    for source in ('<script src="https://cdn.example/x.js"></script>', "<style>@import 'https://cdn.example/x.css';</style>", '<div style="background: url(//cdn.example/x.png)">'):
        with pytest.raises(RuntimeError, match="another host"):
            offline_page(f"<head></head>{source}", statics)


def test_which_hosts_name_the_server() -> None:
    from workbench.tui.web import HostRule

    loopback = HostRule("127.0.0.1", "127.0.0.1", 8000, None)
    assert loopback.origin_for("127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert loopback.origin_for("localhost:8000") == "http://localhost:8000"
    assert all(loopback.origin_for(h) is None for h in ("127.0.0.2:8000", "10.0.0.5:8000", "localhost", "evil.example:8000", "", "a b:8000", "[::1]:8000"))
    v6 = HostRule("::1", "::1", 8000, None)
    assert v6.origin_for("[::1]:8000") == "http://[::1]:8000" and v6.origin_for("localhost:8000") == "http://localhost:8000"
    everywhere = HostRule("0.0.0.0", "0.0.0.0", 80, None)  # --allow-remote: any IP literal, no name
    assert everywhere.origin_for("10.0.0.5") == "http://10.0.0.5" and everywhere.origin_for("10.0.0.5:80") == "http://10.0.0.5"
    assert everywhere.origin_for("devbox.lan") is None and everywhere.origin_for("10.0.0.5:8080") is None
    named = HostRule("devbox.lan", "10.0.0.5", 8000, "http://devbox.lan:8000")
    assert named.origin_for("devbox.lan:8000") == "http://devbox.lan:8000" and named.origin_for("10.0.0.5:8000") == "http://10.0.0.5:8000"
    assert "http://10.0.0.5:8000" in named.describe() and "http://devbox.lan:8000" in named.describe()


def test_a_proxy_on_this_machine_may_pass_the_upstream_address() -> None:
    """`--public-url https://localhost` (a TLS proxy on this machine) in front of 127.0.0.1:8000:
    a proxy passing its upstream's address (`localhost:8000`) names this server too. The public
    URL's host matched first and its port did not: 421."""
    from workbench.tui.web import HostRule, is_loopback

    proxied = HostRule("127.0.0.1", "127.0.0.1", 8000, "https://localhost")
    assert proxied.origin_for("localhost") == "https://localhost"  # the browser's Host, passed on
    assert proxied.origin_for("localhost:8000") == "http://localhost:8000"  # the upstream's
    assert proxied.origin_for("127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert proxied.origin_for("localhost:9000") is None
    assert is_loopback("LOCALHOST") and is_loopback("[::1]")  # host names are case-insensitive
