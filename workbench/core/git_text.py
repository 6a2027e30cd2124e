"""Git's words about a failed push or fetch, made fit to show: one line, no secret, nothing a
terminal would act on.

What git prints then mixes its own reasons (`fatal:`, `error:`), hints, and whatever the server
sent (`remote: ...`, its text, which may repeat the request's credentials). The CLI, the app,
exceptions of the Python API and the runtime's log all show the same line, built here.
"""

from __future__ import annotations

from collections.abc import Iterable

from workbench.core.redact import redact
from workbench.core.safe_text import one_line

LIMIT = 400  # characters: git's reason and the first words of the server fit; a page of HTML does not
_OWN = ("fatal:", "error:")


def remote_failure(output: str, secrets: Iterable[str] = ()) -> str:
    """One line from what git printed when a push or fetch failed: git's reasons first (without
    their `fatal:` prefix), what the transport printed before them in parentheses (ssh's
    "Permission denied (publickey)."), then "(the remote said: ...)" with the server's first lines.

    Args:
        output: git's stderr (and stdout, if any).
        secrets: values to remove besides what `redact` always removes (the remote URL's
            password: `workbench.evals.secrets.known_secrets()` once it is registered).

    Every line is redacted before anything is cut, so no prefix of a secret survives; control
    characters are made visible.
    """
    secrets = tuple(secrets)
    lines = [redact(line.strip(), secrets) for line in output.splitlines() if line.strip()]
    reasons = [line.split(":", 1)[1].strip() for line in lines if line.startswith(_OWN)]
    others = [line for line in lines if not line.startswith((*_OWN, "remote:", "hint:"))]
    # A ref git refused (" ! [rejected] v1 -> v1 (would clobber existing tag)") is the reason, not
    # the "From <url>" and "* [new tag]" lines before it.
    refused = [" ".join(line.split()) for line in others if line.startswith("!")]
    text = "; ".join(reasons or refused[:3] or others[:2]) or "git gave no reason"
    first = next((i for i, line in enumerate(lines) if line.startswith(_OWN)), 0)
    before = [line for line in lines[:first] if not line.startswith(("remote:", "hint:", "warning:"))]  # ssh's words
    if reasons and before:
        text += f" ({'; '.join(before[:2])})"
    said = server_said(output, secrets)
    if said:
        text += f" (the remote said: {'; '.join(said[:3])})"
    return one_line(text, LIMIT)


def server_said(output: str, secrets: Iterable[str] = ()) -> list[str]:
    """The server's own lines in what git printed (`remote: ...`, from its hooks and policies),
    each redacted, made visible and cut; blank ones left out. Untrusted: the server wrote them."""
    secrets = tuple(secrets)
    lines = (line.strip() for line in output.splitlines())
    said = (redact(line[len("remote:") :].strip(), secrets) for line in lines if line.startswith("remote:"))
    return [one_line(line, LIMIT) for line in said if line]
