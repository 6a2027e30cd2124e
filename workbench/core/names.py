"""Prompt names and the files they may reach: one rule for the loader, the CLI, the app and Git.

A prompt's name is its path under `prompts/` without the extension. Names end up as command
arguments, Git ref components (`<name>@v3`, `deploy/prod/<name>/<seq>`), paths read from the
working copy or a revision, and text shown in terminals and reports. So a name is valid only
when it is a plain relative path that stays inside `prompts/` and cannot be mistaken for
anything else:

| rule | why |
| --- | --- |
| not empty, at most 200 characters | a name is typed, shown and used in ref names |
| relative: no leading `/`, no drive (`C:`), no `~` at the start | `render /etc/x` must not read outside the repository |
| no empty, `.` or `..` part | `render ../../outside` must not leave `prompts/` |
| no part starts with `-` | `git tag -x@v1` would read it as an option |
| no part starts with `.` | hidden files are skipped by discovery; `.git` is not a prompt |
| no part starts or ends with white space | invisible differences between two names |
| valid UTF-8 text: no lone surrogate | a file name that is not UTF-8 (`bad\\xff.yaml`) is read as `bad\\udcff`, which no terminal shows, nobody can type and no encoder accepts |
| no control characters, bidi overrides or line separators | they rewrite what a terminal shows |
| no `\\` | a second path separator on Windows |
| no `@` | it separates a name from its version (`support/summarize@v3`) |
| no `*` or `?` | Git reads them as wildcards in a pathspec |

Spaces, Unicode letters and markup brackets (`[bold]`) are allowed: the ref-name encoding
(`core.versions.encode_ref_component`) and the safe-text rule (`core.safe_text`) handle them.

Names are not normalised: a name is the file's own spelling, and its tags keep it. But macOS
writes `é` as e + U+0301 where a keyboard types U+00E9, two names that look the same. So a
typed name that names no prompt resolves to the one prompt it equals in NFC
(`same_prompt_name`, as git's core.precomposeUnicode does; the CLI, the app, `commit` and the runtime
`PromptRepo.get` all look names up by it), and two files whose names are one
in NFC are an error (`normalised_name`, the key `validate` compares names by).

`file://` references (a prompt's `tests: file://cases.tests.yaml`) follow one rule too:
relative to the folder of the file that names them, and the target stays inside `prompts/` of
the same revision (`resolve_reference`). Symbolic links are checked by the readers of the
working copy (`workbench.services.prompts.read_confined`), since a pure function cannot see
the disk.
"""

from __future__ import annotations

import posixpath
import re
import unicodedata
from collections.abc import Iterable

from workbench.core.model import PROMPT_SUFFIXES, PROMPTS_DIR, TESTS_SUFFIXES
from workbench.core.versions import APPROVE_PREFIX, DEPLOY_PREFIX
from workbench.errors import PromptError

MAX_NAME_LENGTH = 200
FILE_SCHEME = "file://"

# C0 and C1 controls, DEL, bidi embeddings/overrides/isolates, line and paragraph separators,
# zero-width and BOM characters (the same families `core.safe_text` neutralises on screen).
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff]")
_DRIVE = re.compile(r"^[A-Za-z]:")
# Lone surrogates: how Python reads the bytes of a file name that is not UTF-8 (surrogateescape,
# as os.walk and the git adapter do): `prompts/bad\xff.yaml` is `bad\udcff`.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class UnsafePath(ValueError):
    """A name or reference that breaks the rule; `reason` says which part and why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _describe(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def _not_text(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape's stand-in for the byte code - 0xDC00
        return f"the byte 0x{code - 0xDC00:02X}"
    return f"the lone surrogate {_describe(ch)}"


def _path_problem(path: str, what: str) -> str | None:
    """Why the relative POSIX path `path` is unsafe (shared by names and references)."""
    if not path:
        return f"{what} is empty"
    surrogate = _SURROGATE.search(path)
    if surrogate:
        # It passed as a valid name and then crashed whatever encoded it (`test`'s cache key).
        return f"{what} is not valid UTF-8 text ({_not_text(surrogate.group())})"
    bad = _INVISIBLE.search(path)
    if bad:
        return f"{what} contains the control or invisible character {_describe(bad.group())}"
    if "\\" in path:
        return f"{what} contains '\\' (use '/' between folders)"
    if path.startswith("/") or _DRIVE.match(path) or path.startswith("~"):
        return f"{what} must be relative to prompts/, not an absolute path"
    for part in path.split("/"):
        if part == "":
            return f"{what} has an empty part ('//' or a '/' at either end)"
        if part in (".", ".."):
            return f"{what} must not contain '{part}' (it must stay inside prompts/)"
        if part.startswith("-"):
            return f"{what} has a part starting with '-' ({part!r}), which Git and the command line read as an option"
        if part.startswith("."):
            return f"{what} has a hidden part starting with '.' ({part!r})"
        if part != part.strip():
            return f"{what} has a part that starts or ends with white space ({part!r})"
    return None


def prompt_name_problem(name: str) -> str | None:
    """Why `name` is not a valid prompt name, or None when it is.

    Args:
        name: a prompt name as typed or derived from a path (`support/summarize`).

    Returns:
        One sentence naming the rule it breaks, or None.
    """
    if not isinstance(name, str):
        return "a prompt name must be text"
    if len(name) > MAX_NAME_LENGTH:
        return f"the prompt name is {len(name)} characters long (the limit is {MAX_NAME_LENGTH})"
    problem = _path_problem(name, "the prompt name")
    if problem:
        return problem
    for ch, why in (("@", "it separates a name from its version, as in name@v3"), ("*", "Git reads it as a wildcard"), ("?", "Git reads it as a wildcard")):
        if ch in name:
            return f"the prompt name contains '{ch}' ({why})"
    if name.endswith(".tests"):
        return "a name ending in '.tests' belongs to a tests file (.tests.yaml), not a prompt"
    first = name.split("/", 1)[0] + "/"
    if "/" in name and first in (DEPLOY_PREFIX, APPROVE_PREFIX):
        # Its release tags (`deploy/x@v1`) would sit among the deployment events or approvals
        # and never be read as releases: every tag minted a new version of the same commit.
        return f"a name may not start with '{first}': Git tags under it are deployment events and approvals"
    return None


def is_valid_prompt_name(name: str) -> bool:
    return prompt_name_problem(name) is None


def check_prompt_name(name: str) -> str:
    """`name` itself when it is a valid prompt name.

    Raises:
        PromptError: naming the rule it breaks (the CLI prints it and exits 2).
    """
    problem = prompt_name_problem(name)
    if problem is not None:
        from workbench.core.safe_text import clean

        raise PromptError(f"invalid prompt name {clean(name)!r}: {problem}", hint="a name is a path under prompts/ without the extension, e.g. support/summarize")
    return name


def normalised_name(name: str) -> str:
    """The key two names that look the same share: NFC (e + U+0301 and U+00E9 are one)."""
    return name if name.isascii() else unicodedata.normalize("NFC", name)


def same_prompt_name(typed: str, names: Iterable[str]) -> str | None:
    """The prompt among `names` that the name `typed` means: itself when it is one of them, else the
    one equal to it in NFC; None when none is, or several are (the caller says it is missing).

    The one lookup rule of the CLI, the app, `commit` and the runtime (`PromptRepo.get`): a file
    written on macOS (decomposed) is found by the name typed on a keyboard (precomposed), and the
    other way round; only the CLI's working copy did it, so the serving application's
    `get("uni/eéccc")` said "does not exist" for the prompt the CLI had tagged and promoted.
    """
    key = normalised_name(typed)
    found = set()
    for name in names:
        if name == typed:
            return name
        if normalised_name(name) == key:
            found.add(name)
    return found.pop() if len(found) == 1 else None


def spelled(name: str) -> str:
    """`name` with its combining characters, and those NFC replaces (U+212B ANGSTROM SIGN), written
    as escapes (`uni/ee\\u0301ccc`): two names that differ only in normalisation, told apart."""
    if name.isascii():
        return name
    return "".join(f"\\u{ord(ch):04x}" if unicodedata.combining(ch) or unicodedata.normalize("NFC", ch) != ch else ch for ch in name)


def prompt_path_problem(path: str) -> str | None:
    """Why the repository path `path` is not a prompt file with a valid name, or None.

    A prompt file is `prompts/<name>.yaml` or `.yml` (not `.tests.yaml`) whose name passes
    `prompt_name_problem`.
    """
    if not path.startswith(PROMPTS_DIR + "/"):
        return f"a prompt file must be under {PROMPTS_DIR}/"
    if not path.endswith(PROMPT_SUFFIXES):
        return "a prompt file ends in .yaml or .yml"
    if path.endswith(TESTS_SUFFIXES):
        return "a .tests.yaml file holds test cases, not a prompt"
    stem = path[len(PROMPTS_DIR) + 1 :]
    for suffix in PROMPT_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return prompt_name_problem(stem)


def prompt_paths(name: str) -> tuple[str, ...]:
    """The repository paths prompt `name` may live at (`prompts/<name>.yaml`, `.yml`).

    Raises:
        PromptError: `name` is not a valid prompt name (so no path outside prompts/ is built).
    """
    check_prompt_name(name)
    return tuple(f"{PROMPTS_DIR}/{name}{suffix}" for suffix in PROMPT_SUFFIXES)


def resolve_reference(ref: str, referrer: str, *, inside: str = PROMPTS_DIR) -> str:
    """The repository path a `file://` reference made in the file `referrer` points to.

    The reference is relative to the referrer's folder; the result must stay inside the
    folder `inside` (default `prompts/`; "" means anywhere in the repository) of the same
    revision. Absolute paths, `..` that climbs out, backslashes, control characters and
    parts starting with `-` are refused.

    Args:
        ref: `file://cases.tests.yaml` or just `cases.tests.yaml`.
        referrer: repository path of the file holding the reference (`prompts/rag/qa.yaml`),
            or "" for references relative to the repository root.
        inside: the folder the target must stay in.

    Raises:
        UnsafePath: naming the rule the reference breaks.
    """
    relative = ref[len(FILE_SCHEME) :] if ref.startswith(FILE_SCHEME) else ref
    bad = _INVISIBLE.search(relative)
    if bad:
        raise UnsafePath(f"the reference contains the control or invisible character {_describe(bad.group())}")
    if not relative:
        raise UnsafePath("the reference is empty")
    if "\\" in relative:
        raise UnsafePath("the reference contains '\\' (use '/' between folders)")
    if relative.startswith("/") or _DRIVE.match(relative) or relative.startswith("~"):
        raise UnsafePath("the reference must be a relative path, not an absolute one")
    folder = posixpath.dirname(referrer)
    target = posixpath.normpath(posixpath.join(folder, relative))
    if target == ".." or target.startswith("../") or target.startswith("/"):
        raise UnsafePath("the reference points outside the repository")
    if inside and not target.startswith(inside.rstrip("/") + "/"):
        raise UnsafePath(f"the reference points outside {inside.rstrip('/')}/ ({target})")
    problem = _path_problem(target, "the referenced path")
    if problem:
        raise UnsafePath(problem)
    return target


__all__ = [
    "MAX_NAME_LENGTH",
    "UnsafePath",
    "check_prompt_name",
    "is_valid_prompt_name",
    "normalised_name",
    "prompt_name_problem",
    "prompt_path_problem",
    "prompt_paths",
    "resolve_reference",
    "same_prompt_name",
    "spelled",
]
