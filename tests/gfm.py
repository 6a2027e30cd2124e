"""Markdown read as GitHub reads a pull-request comment, for the report tests.

Two passes, as on github.com:

1. cmark-gfm, GitHub's own Markdown parser (the `cmarkgfm` bindings, a dev dependency) with
   its extensions: tables, strikethrough, tag filter and autolinks (`www.`, `http://`,
   `https://`, `ftp://`, `mailto:`, `xmpp:` and bare email addresses become links).
2. What GitHub does to the HTML afterwards ("Autolinked references and URLs" in its docs):
   @mentions and team mentions, `#123`, `GH-123`, `owner/repo#123`, commit SHAs, email
   addresses and URLs become links in any text that is not inside `<code>`, `<pre>` or `<a>`.
   That pass is not public: `Page.live` is every piece of text it would read.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import cmarkgfm
from cmarkgfm.cmark import Options

# What the second pass links: mentions, issue and pull-request references, commit SHAs (7 hex
# digits or more), email addresses and URLs.
REFERENCES = re.compile(
    r"@[A-Za-z0-9-]+|(?<![\w&])#\d+|\bGH-\d+|\b[0-9a-f]{7,40}\b|[\w.+-]+@[\w-]+\.\w|\b(?:https?|ftp)://|\bwww\.\w",
    re.IGNORECASE,
)
QUIET = {"code", "pre", "a"}  # GitHub's reference filters skip text inside these


def render(markdown: str) -> str:
    """The HTML cmark-gfm makes of `markdown`, raw HTML kept (GitHub sanitizes it afterwards:
    kept here, so a test sees any that got through)."""
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


class Page(HTMLParser):
    """The rendered comment: its elements, its link targets, its text outside code (`live`),
    its code spans and, per table, the number of cells of each row."""

    def __init__(self, markdown: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.links: list[str] = []
        self.live: list[str] = []
        self.code: list[str] = []
        self.tables: list[list[int]] = []
        self._open: list[str] = []
        self.feed(render(markdown))
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("a", "img"):
            self.links.extend(value or "" for name, value in attrs if name in ("href", "src"))
        if tag == "table":
            self.tables.append([])
        if tag == "tr":
            self.tables[-1].append(0)
        if tag in ("td", "th"):
            self.tables[-1][-1] += 1
        if tag == "code":
            self.code.append("")
        if tag not in ("br", "img", "hr", "input"):
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if "code" in self._open:
            self.code[-1] += data
        if not QUIET.intersection(self._open):
            self.live.append(data)

    def references(self) -> list[str]:
        """What GitHub's second pass would turn into a link or a notification."""
        return [m.group() for text in self.live for m in REFERENCES.finditer(text)]
