"""The page `workbench serve` sends: textual-serve's own template, with nothing from another host.

textual-serve's `app_index.html` loads its font from Google Fonts (`<link rel="stylesheet"
href="https://fonts.googleapis.com/...">`): a request to another host each time the page opens,
which fails offline and tells that host the tool is in use. `OfflineTemplates` loads the
template as textual-serve ships it, drops every `<link>` to another host, and declares the same
font ('Roboto Mono', which the page's terminal asks for) from the copy textual-serve installs
under its `static/fonts/`, served behind the token like its other static files. If that copy is
missing, the terminal falls back to its own list (Monaco, Courier New, monospace): still nothing
from outside. A template that would still fetch from another host stops the server at its first
page (an error, never a silent leak); `tests/web/test_serve.py` checks the page and its CSS.

`content_security_policy` is the header that tells the browser the same: only this server.

`exchange_page` is the page a request with the token gets (with the token's cookie): it opens
the same address without the token, and loads nothing (`EXCHANGE_POLICY`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path

import jinja2

# A <link> element (stylesheet, preconnect, icon...) whose href names another host.
_EXTERNAL_LINK = re.compile(r"""<link\b[^>]*?\bhref\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//[^>]*>""", re.IGNORECASE)
# Anything left that a browser would fetch from another host.
_EXTERNAL_FETCH = re.compile(
    r"""\b(?:src|href|srcset|poster|action)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//|url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//|@import""",
    re.IGNORECASE,
)
FONTS = (("RobotoMono-VariableFont_wght.ttf", "normal"), ("RobotoMono-Italic-VariableFont_wght.ttf", "italic"))
FONT_FAMILY = "Roboto Mono"  # what textual.js gives xterm.js: 'Roboto Mono', Monaco, 'Courier New', monospace


def font_faces(statics: Path) -> str:
    """`@font-face` rules for the fonts textual-serve installs (those present), preloaded so the
    terminal measures its cells with them; "" when none is there."""
    present = [(name, style) for name, style in FONTS if (statics / "fonts" / name).is_file()]
    if not present:
        return ""
    url = "{{ config.static.url }}fonts/"
    preload = "".join(f'<link rel="preload" href="{url}{name}" as="font" type="font/ttf" crossorigin />\n' for name, style in present if style == "normal")
    rules = "".join(
        f'@font-face {{ font-family: "{FONT_FAMILY}"; src: url("{url}{name}") format("truetype"); '
        f"font-weight: 100 700; font-style: {style}; font-display: block; }}\n"
        for name, style in present
    )
    return f"{preload}<style>\n{rules}</style>\n"


def offline_page(source: str, statics: Path) -> str:
    """textual-serve's page template without its external links, with the installed font.

    Raises:
        RuntimeError: the template would still fetch something from another host.
    """
    page = _EXTERNAL_LINK.sub("", source)
    page = page.replace("</head>", font_faces(statics) + "</head>", 1)
    leftover = _EXTERNAL_FETCH.search(page)
    if leftover:
        raise RuntimeError(
            f"textual-serve's page template fetches from another host ({page[leftover.start() : leftover.start() + 80]!r}); "
            "workbench serve does not send such a page: this textual-serve version needs a change in workbench/tui/web_page.py"
        )
    return page


class OfflineTemplates(jinja2.BaseLoader):
    """textual-serve's templates folder, each template passed through `offline_page`."""

    def __init__(self, templates: Path, statics: Path) -> None:
        self.inner = jinja2.FileSystemLoader(templates)
        self.statics = statics

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.inner.get_source(environment, template)
        return offline_page(source, self.statics), filename, uptodate


def content_security_policy(page_origin: str) -> str:
    """Only this server: its scripts, styles, fonts and images, and its websocket (named
    explicitly as well: older browsers do not read 'self' as ws:/wss:). Inline script and
    style stay allowed: textual-serve's page has both."""
    websocket = ("wss://" if page_origin.startswith("https://") else "ws://") + page_origin.split("://", 1)[1]
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src 'self' {websocket}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


# Nothing to load, run, submit or frame: the page's refresh and link are navigations, not fetches.
EXCHANGE_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def exchange_page(url: str) -> str:
    """The page that opens `url` (the address without the token) as soon as it is read, by a
    `<meta http-equiv="refresh">`: a navigation the page starts, so same-site, and the browser
    sends the `SameSite=Strict` cookie with it (it sends none on a navigation, or a redirect,
    that another site's page started). A 0-second refresh replaces the tab's history entry.
    `url` is an attribute's value, HTML-escaped; it starts with `http(s)://`, so the refresh
    reads all of it as the URL. The link is for a browser that does not follow refreshes."""
    shown = html.escape(url, quote=True)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0;url={shown}"><title>Prompt Workbench</title></head>\n'
        f'<body><p>This browser now holds the token as a cookie: <a href="{shown}">open Prompt Workbench</a> '
        "(the same address without the token).</p></body></html>\n"
    )
