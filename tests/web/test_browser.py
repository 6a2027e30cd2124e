"""The app in a real browser: `workbench serve` on the demo repository, driven in headless Chromium.

Debian's `chromium` package (`.ci/run` installs it when missing) is driven by Playwright's
Python package pointed at that binary: Playwright downloads no browser of its own here.
xterm.js draws the terminal on a canvas, so the text on the page is read from xterm.js's own
screen buffer (an init script keeps a reference to it as the page's script creates it).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from web_helpers import Served, linking_site, prefix_proxy, start_server, stop_server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # root in CI containers
    "--disable-gpu",
    "--disable-background-networking",  # the machine's network is closed: no update or sync calls
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
# Keeps xterm.js's terminal objects as the page's bundled script builds them: they set `_core`.
SCREEN_HOOK = """(() => {
  const seen = [];
  Object.defineProperty(Object.prototype, '_core', {
    configurable: true,
    set(value) {
      seen.push(this);
      Object.defineProperty(this, '_core', {value, writable: true, configurable: true, enumerable: true});
    },
    get() { return undefined; },
  });
  window.__screenText = () => {
    for (const api of seen) {
      try {
        const buffer = api.active;
        if (buffer && buffer.getLine) {
          const lines = [];
          for (let i = 0; i < buffer.length; i++) {
            const line = buffer.getLine(i);
            if (line) lines.push(line.translateToString(true));
          }
          return lines.join('\\n');
        }
      } catch (e) {}
    }
    return null;
  };
})();"""


def chromium_path() -> str | None:
    for candidate in (os.environ.get("WORKBENCH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is not installed (pip install -e '.[dev]')")
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium on this machine: `apt-get install -y chromium` (Debian) installs it; .ci/run does so when it can")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def screen(page: Any) -> str:
    return str(page.evaluate("window.__screenText && window.__screenText() || ''"))


def wait_for_screen(page: Any, *texts: str) -> str:
    """Wait (up to a minute: the app starts in a subprocess) until every text is on the screen."""
    condition = "texts => { const s = window.__screenText && window.__screenText(); return !!s && texts.every(t => s.includes(t)); }"
    try:
        page.wait_for_function(condition, arg=list(texts), timeout=60_000)
    except Exception as err:
        raise AssertionError(f"not on the page: {texts!r}\n--- screen ---\n{screen(page)}") from err
    return screen(page)


def press_until(page: Any, key: str, text: str, *, tries: int = 12, wait_s: float = 5, where: Any = None) -> str:
    """Press `key` until `text` is on the screen (or in `where(screen)`), waiting up to `wait_s` after each press.

    A key sent while the focus moves can be taken by the widget losing it; pressing again is
    safe where going one step too far cannot happen (the last row of a list).
    """
    for _ in range(tries):
        page.keyboard.press(key)
        for _ in range(int(wait_s * 10)):
            page.wait_for_timeout(100)
            current = screen(page)
            if text in (where(current) if where else current):
                return current
    raise AssertionError(f"{text!r} never appeared after pressing {key!r}\n--- screen ---\n{screen(page)}")


def filter_tree(page: Any, text: str, *, hidden: str, tries: int = 3) -> None:
    """`/`, then `text` typed into the tree's filter until the tree no longer shows `hidden` (a
    row always on screen unfiltered). Keys typed while the filter takes the focus can be lost
    on a busy machine: the filter is then opened again and the text typed again."""
    for _ in range(tries):
        press_until(page, "/", "filter prompts…")
        page.keyboard.type(text, delay=50)
        for _ in range(100):
            page.wait_for_timeout(100)
            if hidden not in screen(page):
                return
        page.keyboard.press("Escape")  # the filter cleared: the tree has the focus again
    raise AssertionError(f"the filter never took {text!r}\n--- screen ---\n{screen(page)}")


def test_the_app_in_a_browser_shows_the_tree_and_opens_a_diff(browser: Any, served: Served) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.add_init_script(SCREEN_HOOK)
    fetched: list[str] = []  # every request and websocket the page makes
    page.on("request", lambda request: fetched.append(request.url))
    page.on("websocket", lambda socket: fetched.append(socket.url))
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    response = page.goto(served.url, wait_until="domcontentloaded")
    assert response is not None and response.status == 200
    # The token became a cookie: it is in neither the address bar nor the tab's history entry
    page.wait_for_url(served.base + "/", wait_until="domcontentloaded", timeout=30_000)
    entries = page.context.new_cdp_session(page).send("Page.getNavigationHistory")["entries"]
    assert [entry["url"] for entry in entries] == ["about:blank", served.base + "/"], entries
    text = wait_for_screen(page, "1 Prompts", "support/", "summarize", "2 History", "READ-ONLY")
    # Nothing from another host; the terminal's font is the one the installed package ships
    host = urlsplit(served.base).netloc
    assert fetched and all(urlsplit(url).netloc == host for url in fetched if not url.startswith("data:")), fetched
    assert any(url.startswith("ws://") for url in fetched) and any(url.endswith(".ttf") for url in fetched), fetched
    assert page.evaluate("() => [...document.fonts].some(f => f.family.replace(/[\"']/g, '') === 'Roboto Mono' && f.status === 'loaded')")
    assert not [line for line in console if "Content Security Policy" in line], console
    assert "analytics/" in text and "sql_generator" in text
    # Filter the tree to support/summarize, then walk down to it (the last row: no overshoot)
    page.locator(".xterm-helper-textarea").focus()  # the keyboard goes to the terminal, as after a click
    filter_tree(page, "summarize", hidden="analytics/")
    page.keyboard.press("Enter")
    text = press_until(page, "j", "History · support/summarize", wait_s=0.5, tries=40)
    rows = re.findall(r"[│┃][ ◆]([0-9a-f]{7}) ", text)  # border, base mark, commit
    assert len(rows) >= 3, text
    # History pane, one version down: the diff of that version against the one before it; d focuses the diff
    page.keyboard.press("2")
    text = press_until(page, "j", rows[1], where=lambda s: next((line.split("+++", 1)[1] for line in s.splitlines() if "+++" in line), ""))
    press_until(page, "d", "u Split / unified")  # the diff pane has the focus: its keys are in the footer
    text = wait_for_screen(page, "3 Diff", "· changed", "--- ", "+++ ")
    header = next(line for line in text.splitlines() if "+++" in line)
    assert rows[2] in header.split("+++")[0] and rows[1] in header.split("+++")[1], header
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "browser.png"))
    # Read-only: a promotion is refused with a notice, nothing is written
    page.keyboard.press("p")
    wait_for_screen(page, "Read-only", "read-only: promote")
    page.close()


def test_a_link_from_another_site_opens_the_app_and_drops_the_token(browser: Any, served: Served) -> None:
    """The printed URL clicked on another site's page (a web chat, a docs page, a README on
    localhost): the navigation is cross-site, so the browser does not send a `SameSite=Strict`
    cookie on it, nor on a redirect it follows. The app must still open, and the token leave
    the address bar and the tab's history."""
    with linking_site(served.url) as elsewhere:
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.add_init_script(SCREEN_HOOK)
        tokened: list[Any] = []  # the browser's request for the printed URL
        page.on("request", lambda request: tokened.append(request) if "token=" in request.url else None)
        answers: list[Any] = []  # every document the tab loaded
        page.on("response", lambda response: answers.append(response) if response.request.is_navigation_request() else None)
        page.goto(elsewhere, wait_until="domcontentloaded")
        page.click("#app")
        page.wait_for_url(served.base + "/", wait_until="domcontentloaded", timeout=30_000)
        assert len(tokened) == 1 and tokened[0].all_headers().get("sec-fetch-site") == "cross-site", tokened
        assert answers[-1].url == served.base + "/" and answers[-1].status == 200, [(a.url, a.status) for a in answers]
        wait_for_screen(page, "1 Prompts", "support/", "READ-ONLY")
        assert page.url == served.base + "/"
        entries = page.context.new_cdp_session(page).send("Page.getNavigationHistory")["entries"]
        assert [entry["url"] for entry in entries] == ["about:blank", elsewhere, served.base + "/"], entries
        page.close()


def test_the_browser_gets_nothing_without_the_token(browser: Any, served: Served) -> None:
    page = browser.new_page()
    page.add_init_script(SCREEN_HOOK)
    response = page.goto(served.base + "/", wait_until="domcontentloaded")
    assert response is not None and response.status == 403
    assert page.locator(".textual-terminal").count() == 0 and page.locator("script").count() == 0
    assert "needs its token" in page.inner_text("body")
    page.close()


def test_the_app_behind_a_proxy_under_a_path_prefix(browser: Any, demo_repo: Path) -> None:
    """`--public-url http://HOST/tools/workbench` behind a proxy that strips the prefix: the page,
    its files and its websocket all go through the proxy under the prefix, and the app works."""
    with prefix_proxy("/tools/workbench") as proxy:
        public = f"http://127.0.0.1:{proxy.port}/tools/workbench"
        served = start_server(demo_repo, "--public-url", public)
        try:
            proxy.upstream = served.base
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.add_init_script(SCREEN_HOOK)
            fetched: list[str] = []
            page.on("request", lambda request: fetched.append(request.url))
            page.on("websocket", lambda socket: fetched.append(socket.url))
            assert served.url.startswith(public + "/?token=")
            response = page.goto(served.url, wait_until="domcontentloaded")
            assert response is not None and response.status == 200
            page.wait_for_url(public + "/", wait_until="domcontentloaded", timeout=30_000)
            wait_for_screen(page, "1 Prompts", "support/", "2 History", "READ-ONLY")
            here = f"127.0.0.1:{proxy.port}"
            urls = [url for url in fetched if not url.startswith("data:")]
            assert urls and all(urlsplit(url).netloc == here and urlsplit(url).path.startswith("/tools/workbench/") for url in urls), urls
            assert any(url.startswith(f"ws://{here}/tools/workbench/ws?") for url in urls), urls
            # Only the browser's own guess at a site icon may leave the prefix.
            assert not [p for p in proxy.requests if not p.startswith("/tools/workbench/") and p != "/favicon.ico"], proxy.requests
            page.close()
        finally:
            stop_server(served)
