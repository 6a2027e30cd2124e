"""A prompt repository with one branch per kind of pull request, for `workbench ci check`.

Every commit has a fixed date, so commit ids (and the Markdown that shows them) are the same on
every run. The model is the local OpenAI-protocol server (`fake_openai.py`): it answers with
the whole rendered conversation, so what a prompt says decides which assertions pass.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

CONFIG = """\
environments: [dev, staging, prod]
main_branch: main
model: {provider: openai, name: gpt-4o-mini, api_key_env: FAKE_KEY}
"""

REPLY = """\
description: Draft a reply to a support ticket
inputs:
  ticket: {type: string, required: true}
messages:
  - role: system
    content: |
      You draft replies. Be brief and polite.
      {% include "shared/policy.jinja" %}
  - role: user
    content: "Ticket: {{ ticket }}"
tests:
  - description: polite
    vars: {ticket: where is my order}
    assert: [{type: icontains, value: polite}]
  - description: brief
    vars: {ticket: refund please}
    assert: [{type: icontains, value: brief}]
  - description: mentions the policy
    vars: {ticket: it broke}
    assert: [{type: icontains, value: refund policy}]
"""

POLICY = "Always mention the refund policy."

ANSWER = """\
description: Answer a product question
inputs:
  question: {type: string, required: true}
messages:
  - role: system
    content: Answer in one sentence.
  - role: user
    content: "{{ question }}"
tests: file://cases.tests.yaml  # not named after the prompt: found by the reference
"""

ANSWER_TESTS = """\
- description: one sentence
  vars: {question: what is it}
  assert: [{type: icontains, value: one sentence}]
- description: cites the manual
  vars: {question: how do I reset it}
  assert: [{type: icontains, value: manual}]
"""

ESCALATE = """\
description: Escalate a ticket to a human
inputs:
  ticket: {type: string, required: true}
messages:
  - role: system
    content: |
      Escalate when unsure.
      {% include "shared/policy.jinja" %}
  - role: user
    content: "{{ ticket }}"
tests:
  - description: says escalate
    vars: {ticket: help}
    assert: [{type: icontains, value: escalate}]
"""

GREETING = """\
description: A greeting without tests
inputs:
  name: {type: string, required: true}
template: "Hello {{ name }}"
"""


def reply(body: dict[str, Any]) -> str:
    """The whole conversation, so every word of the prompt can be asserted on."""
    return "\n".join(str(m.get("content", "")) for m in body.get("messages", []))


def git(root: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_DATE="2026-03-01T12:00:00Z", GIT_COMMITTER_DATE="2026-03-01T12:00:00Z")
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True, env=env).stdout


def write(root: Path, path: str, text: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


def branch(root: Path, name: str, files: dict[str, str | None], message: str) -> None:
    """A branch from main with these files written (None: deleted) in one commit."""
    git(root, "switch", "-q", "-c", name, "main")
    for path, text in files.items():
        if text is None:
            (root / path).unlink()
        else:
            write(root, path, text)
    commit(root, message)
    git(root, "switch", "-q", "main")


def build(root: Path) -> Path:
    """main plus the branches `regress`, `improve`, `partial`, `tests-file`, `nothing`, `invalid`."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    write(root, ".gitignore", ".workbench/\n")
    write(root, "workbench.yaml", CONFIG)
    write(root, "README.md", "Prompts of the support team.\n")
    write(root, "prompts/support/reply.yaml", REPLY)
    write(root, "prompts/shared/policy.jinja", POLICY)
    write(root, "prompts/support/escalate.yaml", ESCALATE)
    write(root, "prompts/faq/answer.yaml", ANSWER)
    write(root, "prompts/faq/cases.tests.yaml", ANSWER_TESTS)
    write(root, "prompts/greeting.yaml", GREETING)
    commit(root, "Support prompts")
    branch(root, "regress", {"prompts/support/reply.yaml": REPLY.replace("Be brief and polite.", "Be thorough.")}, "Longer replies")
    branch(root, "improve", {"prompts/faq/answer.yaml": ANSWER.replace("Answer in one sentence.", "Answer in one sentence; cite the manual.")}, "Cite the manual")
    branch(root, "partial", {"prompts/shared/policy.jinja": "Never promise anything."}, "Shorter policy")
    branch(
        root, "tests-file",
        {"prompts/faq/cases.tests.yaml": ANSWER_TESTS + "- description: answers at all\n  vars: {question: why}\n  assert: [{type: icontains, value: why}]\n"},
        "One more case",
    )
    branch(root, "nothing", {"README.md": "Prompts of the support team, reviewed weekly.\n"}, "Docs only")
    branch(root, "invalid", {"prompts/broken.yaml": "messages:\n  - role: user\n    content: '{{ missing }}'\nmodle: typo\n"}, "Add a broken prompt")
    return root
