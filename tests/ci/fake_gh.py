"""A stand-in for `gh api` that keeps a pull request's comments in a JSON file.

Put on PATH as `gh` (see `install`). It answers the REST calls the action's comment script
makes the way GitHub does for a workflow's GITHUB_TOKEN: `GET user` is refused (403),
comments are listed page by page (`--paginate` prints one JSON array per page, as gh does),
created (POST) and edited (PATCH; only the token's own comments, else 403). Every call is
appended to the log: method, endpoint, fields, and whether a token was given.

State file: {"comments": [{"id", "body", "user": {"login", "type"}}], "next_id": N}.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

BOT = "github-actions[bot]"
PAGE = 2  # small pages, so --paginate is exercised


def install(bin_dir: Path, state: Path, log: Path, comments: list[dict[str, object]] | None = None) -> dict[str, str]:
    """Write `gh` into `bin_dir`; returns the environment variables it reads."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    gh = bin_dir / "gh"
    gh.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n', encoding="utf-8")
    gh.chmod(0o755)
    state.write_text(json.dumps({"comments": comments or [], "next_id": 1000}), encoding="utf-8")
    return {"FAKE_GH_STATE": str(state), "FAKE_GH_LOG": str(log)}


def calls(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def comments(state: Path) -> list[dict[str, object]]:
    return list(json.loads(state.read_text(encoding="utf-8"))["comments"])


def _fail(message: str, code: int = 1) -> None:
    sys.stderr.write(f"gh: {message}\n")
    sys.exit(code)


def main(argv: list[str]) -> None:
    if not argv or argv[0] != "api":
        _fail(f"this fake knows only `gh api`, not {argv[:1]}")
    method, endpoint, fields, paginate = None, None, {}, False
    args = iter(argv[1:])
    for arg in args:
        if arg in ("-X", "--method"):
            method = next(args)
        elif arg in ("-F", "--field", "-f", "--raw-field"):
            key, _, value = next(args).partition("=")
            if arg in ("-F", "--field") and value.startswith("@"):
                value = Path(value[1:]).read_text(encoding="utf-8")
            fields[key] = value
        elif arg == "--paginate":
            paginate = True
        elif arg.startswith("-"):
            _fail(f"unknown flag {arg}")
        else:
            endpoint = arg
    method = method or ("POST" if fields else "GET")
    token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")
    log = Path(os.environ["FAKE_GH_LOG"])
    with log.open("a", encoding="utf-8") as out:
        out.write(json.dumps({"method": method, "endpoint": endpoint, "fields": fields, "paginate": paginate, "token": bool(token)}) + "\n")
    if not token:
        _fail("To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment variable.", 4)
    state_path = Path(os.environ["FAKE_GH_STATE"])
    state = json.loads(state_path.read_text(encoding="utf-8"))
    path = (endpoint or "").split("?")[0]
    if path == "user":
        _fail("Resource not accessible by integration (HTTP 403)")
    if method == "GET" and re.fullmatch(r"repos/[^/]+/[^/]+/issues/\d+/comments", path):
        pages = [state["comments"][i : i + PAGE] for i in range(0, len(state["comments"]), PAGE)] or [[]]
        for page in pages if paginate else pages[:1]:
            sys.stdout.write(json.dumps(page))
        return
    if method == "POST" and os.environ.get("FAKE_GH_READ_ONLY"):
        _fail("Resource not accessible by integration (HTTP 403)")
    if method == "POST" and (match := re.fullmatch(r"repos/([^/]+/[^/]+)/issues/(\d+)/comments", path)):
        comment = {"id": state["next_id"], "body": fields["body"], "user": {"login": BOT, "type": "Bot"}}
        comment["html_url"] = f"https://github.com/{match[1]}/pull/{match[2]}#issuecomment-{comment['id']}"
        state["comments"].append(comment)
        state["next_id"] += 1
    elif os.environ.get("FAKE_GH_READ_ONLY"):  # a pull request from a fork: a read-only token
        _fail("Resource not accessible by integration (HTTP 403)")
    elif method == "PATCH" and (match := re.fullmatch(r"repos/([^/]+/[^/]+)/issues/comments/(\d+)", path)):
        found = [c for c in state["comments"] if c["id"] == int(match[2])]
        if not found:
            _fail("Not Found (HTTP 404)")
        comment = found[0]
        if comment["user"]["login"] != BOT:
            _fail("Resource not accessible by integration (HTTP 403)")
        comment["body"] = fields["body"]
    else:
        _fail(f"the fake does not know {method} {endpoint}")
    state_path.write_text(json.dumps(state), encoding="utf-8")
    sys.stdout.write(json.dumps(comment))


if __name__ == "__main__":
    main(sys.argv[1:])
