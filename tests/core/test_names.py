"""The one rule for prompt names and file:// references (workbench.core.names)."""

from __future__ import annotations

import pytest

from workbench.core.names import (
    UnsafePath,
    check_prompt_name,
    prompt_name_problem,
    prompt_path_problem,
    resolve_reference,
    same_prompt_name,
    spelled,
)
from workbench.errors import PromptError

VALID = ["support/summarize", "a", "rag/answer_with_citations", "my prompt", "x[reverse]evil", "été/résumé", "v2-draft", "a.b", "deploy", "deployments/x", "team/deploy/x"]
INVALID = {
    "": "empty",
    "-x": "option",
    "--file=x": "option",
    "support/-x": "option",
    "../../outside": "'..'",
    "support/../../x": "'..'",
    "./x": "'.'",
    "/abs/path": "absolute",
    "C:/x": "absolute",
    "~/x": "absolute",
    "a//b": "empty part",
    "a/": "empty part",
    ".hidden": "hidden",
    "a/.git/config": "hidden",
    "a\\b": "'\\'",
    "x\x1b[2Jy": "U+001B",
    "x\ny": "U+000A",
    "x\u202ey": "U+202E",
    # A file name that is not UTF-8 (`prompts/bad\\xff.yaml`, read with surrogateescape): it was
    # listed as valid and crashed `test` when the name was encoded for a cache key.
    "bad\udcff": "not valid UTF-8 text (the byte 0xFF",
    "x/\udce9t\udce9": "the byte 0xE9",
    "x\ud800": "U+D800",
    " x": "white space",
    "x ": "white space",
    "x@v3": "'@'",
    "x*": "wildcard",
    "x?": "wildcard",
    "a.tests": "tests file",
    "a" * 201: "limit",
    # Their release tags would sit among the deployment events and approvals: every tag minted a
    # new version of the same commit, and `--rev name@v1` was never found.
    "deploy/prod/evil": "deployment events",
    "approve/x": "deployment events",
}


@pytest.mark.parametrize("name", VALID)
def test_valid_names(name: str) -> None:
    assert prompt_name_problem(name) is None
    assert check_prompt_name(name) == name


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_names_say_why(name: str) -> None:
    problem = prompt_name_problem(name)
    assert problem is not None and INVALID[name] in problem
    with pytest.raises(PromptError) as err:
        check_prompt_name(name)
    assert "\x1b" not in str(err.value) and "\n" not in err.value.message


def test_prompt_paths() -> None:
    assert prompt_path_problem("prompts/support/summarize.yaml") is None
    assert prompt_path_problem("prompts/a.yml") is None
    assert "under prompts/" in (prompt_path_problem("other/a.yaml") or "")
    assert "test cases" in (prompt_path_problem("prompts/a.tests.yaml") or "")
    assert "option" in (prompt_path_problem("prompts/-x.yaml") or "")
    assert "option" in (prompt_path_problem("prompts/--file=x.yaml") or "")
    assert "'..'" in (prompt_path_problem("prompts/../x.yaml") or "")
    assert "UTF-8" in (prompt_path_problem("prompts/bad\udcff.yaml") or "")


@pytest.mark.parametrize(
    ("ref", "referrer", "target"),
    [
        ("file://qa.tests.yaml", "prompts/rag/qa.yaml", "prompts/rag/qa.tests.yaml"),
        ("qa.tests.yaml", "prompts/qa.yaml", "prompts/qa.tests.yaml"),
        ("file://../shared/cases.yaml", "prompts/rag/qa.yaml", "prompts/shared/cases.yaml"),
        ("file://./sub/c.yaml", "prompts/qa.yaml", "prompts/sub/c.yaml"),
    ],
)
def test_references_resolve_inside_prompts(ref: str, referrer: str, target: str) -> None:
    assert resolve_reference(ref, referrer) == target


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("file://../../outside.yaml", "outside"),
        ("file://../../workbench.yaml", "outside prompts/"),
        ("file://../../../x.yaml", "outside the repository"),
        ("file:///etc/passwd", "relative"),
        ("file://C:/x.yaml", "relative"),
        ("file://~/x.yaml", "relative"),
        ("file://a\\b.yaml", "'\\'"),
        ("file://x\x00.yaml", "U+0000"),
        ("file://-x.yaml", "option"),
        ("file://x\udcff.yaml", "UTF-8"),
        ("file://", "empty"),
    ],
)
def test_unsafe_references_are_refused(ref: str, why: str) -> None:
    with pytest.raises(UnsafePath) as err:
        resolve_reference(ref, "prompts/rag/qa.yaml")
    assert why in err.value.reason


def test_root_relative_references_stay_in_the_repository() -> None:
    assert resolve_reference("file://checks/x.py", "", inside="") == "checks/x.py"
    with pytest.raises(UnsafePath):
        resolve_reference("file://../x.py", "", inside="")
    with pytest.raises(UnsafePath):
        resolve_reference("file:///tmp/x.py", "", inside="")


def test_a_typed_name_resolves_to_the_one_prompt_it_equals_once_normalised() -> None:
    """macOS writes `é` as e + U+0301; typed, it is U+00E9: "no prompt named 'uni/eéccc'",
    "did you mean 'uni/eéccc'?". NFC equality with exactly one existing name resolves it."""
    decomposed, precomposed = "uni/ee\u0301ccc", "uni/e\u00e9ccc"
    assert same_prompt_name(precomposed, [decomposed, "other"]) == decomposed
    assert same_prompt_name(decomposed, [precomposed]) == precomposed
    assert same_prompt_name(precomposed, ["other"]) is None
    # Two files that are one name once normalised: ambiguous, nothing chosen.
    assert same_prompt_name("\u00c5", ["A\u030a", "\u212b"]) is None
    assert spelled("uni/ee\u0301ccc") == "uni/ee\\u0301ccc" and spelled("été/x") == "été/x" and spelled("\u212b") == "\\u212b"
