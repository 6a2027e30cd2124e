"""The listing of prompts at a commit follows the one rule for which files are prompts
(`core.model.is_prompt_path`), which `records.parse_ls_tree` inlines for speed."""

from __future__ import annotations

from workbench.core.model import is_prompt_path, prompt_name_from_path
from workbench.core.versions import PromptRef
from workbench.vcs.records import parse_ls_tree

PATHS = [
    "prompts/a.yaml", "prompts/b.yml", "prompts/team/c.yaml", "prompts/a.tests.yaml", "prompts/a.tests.yml",
    "prompts/.drafts/d.yaml", "prompts/x/.hidden.yaml", "prompts/.yaml", "prompts/e.yaml.txt", "prompts/f.YAML",
    "prompts/g..yml", "prompts/h.yml.yaml", "prompts/tab\tin name.yaml", "prompts/new\nline.yaml", "prompts/blob abc\tprompts/i.yaml",
    "prompts/back\\slash.yaml", "prompts/ünï.yaml", "prompts/bad\udcff.yaml", "prompts2/j.yaml", "other/prompts/k.yaml", "prompts.yaml",
]


def test_the_listing_keeps_exactly_the_prompt_files() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    records = [f"100644 blob {sha}\t{path}" for path in PATHS]
    records += [f"120000 blob {sha}\tprompts/link.yaml", f"160000 commit {sha}\tprompts/sub.yaml", f"100755 blob {sha}\tprompts/x.yml"]
    out = "\0".join(records) + "\0"
    expected = [PromptRef(prompt_name_from_path(p), p, sha, "c0") for p in [*PATHS, "prompts/link.yaml", "prompts/x.yml"] if is_prompt_path(p)]
    assert parse_ls_tree(out, "c0") == expected
    assert {r.path for r in expected} >= {"prompts/a.yaml", "prompts/b.yml", "prompts/g..yml", "prompts/tab\tin name.yaml"}
    assert all(type(r) is PromptRef for r in parse_ls_tree(out, "c0"))
