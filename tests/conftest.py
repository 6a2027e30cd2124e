"""Shared fixtures: every test runs with an isolated Git and Workbench configuration."""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

# A suite started as a background job of a non-interactive shell (`bash .ci/run &`) has SIGINT
# ignored, and every process it starts inherits that: the tests that press Ctrl-C on a real
# `workbench` process sent it to one that could not receive it (three failed, only so launched).
# A handler is not inherited across exec, so the processes started from here get Ctrl-C as a
# terminal gives it.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_PROMPTS = PROJECT_ROOT / "prompts"

# The longest tests, longest first: `-n auto` hands them out first, so that none of them is left
# to run on its own at the end. Nodeid prefixes; the other tests keep their order after them.
SLOW_FIRST = (
    "tests/vcs/test_event_cache_property.py",  # 35-45 s: a stateful property of 12 x 10 steps
    "tests/web/test_browser.py",  # Chromium, and `workbench serve` on the demo repository
    "tests/web/test_serve_sessions.py",  # app processes ended by their sockets or their server
    "tests/vcs/test_deploy.py::test_events_are_append_only_and_status_is_the_latest_event",
    "tests/services/test_demo.py",
    "tests/evals/test_results_store_faults.py",  # locks held for seconds
    "tests/evals/test_scheduling.py",  # time-outs of endpoints that never answer
    "tests/tui/test_parity.py",
    "tests/tui/test_flows.py",
    "tests/tui/test_snapshots.py",
)


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: known only when it is installed
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: two workers a core (at most four more than the cores). A test here waits more
    than it computes (for the app to go idle, a git or workbench process to start, a server's
    time-out): on 2 cores, 2 workers kept the CPUs busy 46% of a run. PYTEST_XDIST_AUTO_NUM_WORKERS
    still decides when it is set (pytest-xdist's own hook reads it)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(2 * cores, cores + 4)


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist's `load` schedule sends each worker a quarter of its share of the tests at
    # first, in collection order: the slow tests moved first would all go to the first worker.
    # One at a time (and two queued on each worker), they go to whichever worker is free.
    if config.pluginmanager.hasplugin("xdist") and config.getoption("maxschedchunk", None) is None:
        config.option.maxschedchunk = 1


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next((n for n, prefix in enumerate(SLOW_FIRST) if item.nodeid.startswith(prefix)), len(SLOW_FIRST))

    items.sort(key=rank)  # stable: every module's tests keep their order


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No user/system git config, a fixed identity and dates, no API keys, no discovered config."""
    isolate(tmp_path_factory.mktemp("home"), monkeypatch)


def isolate(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n[tag]\n\tgpgsign = false\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # COLUMNS/LINES: the width of piped side-by-side output follows the runner's terminal
    # otherwise (pytest-xdist's workers set COLUMNS=80, and a diff test failed only there).
    for var in ("GIT_DIR", "GIT_WORK_TREE", "WORKBENCH_REPO", "WORKBENCH_CONFIG", "OPENAI_API_KEY", "OPENAI_BASE_URL", "COLUMNS", "LINES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")


def git(cwd: Path, *args: str) -> str:
    """Run real git in `cwd` and return its stdout (tests never mock git)."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


class RepoTemplates:
    """Repositories built once per test process, as `isolated_env` would build them, and copied
    for each test that asks for one: their commits are dated, so a copy holds the same commit ids
    as a repository built for the test (a copy's index only has its files' stat data to refresh)."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory = factory
        self.built: dict[str, Path] = {}

    def copy(self, name: str, build: Callable[[Path], object], dest: Path) -> Path:
        """A copy of the template `name` (made by `build(root)` the first time) at `dest`, which
        must not exist yet (two fixtures of this kind in one test: the second one fails)."""
        template = self.built.get(name)
        if template is None:
            template = self.factory.mktemp(f"template-{name.replace('/', '-')}") / "repo"
            with pytest.MonkeyPatch.context() as monkeypatch:
                isolate(self.factory.mktemp("home"), monkeypatch)
                build(template)
            self.built[name] = template
        shutil.copytree(template, dest, symlinks=True)
        return dest


@pytest.fixture(scope="session")
def repo_templates(tmp_path_factory: pytest.TempPathFactory) -> RepoTemplates:
    return RepoTemplates(tmp_path_factory)


def build_prompt_repo(root: Path) -> None:
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    if SAMPLE_PROMPTS.is_dir():
        shutil.copytree(SAMPLE_PROMPTS, root / "prompts")
    else:
        (root / "prompts").mkdir()
    (root / ".gitignore").write_text(".workbench/\n")
    git(root, "add", "-A")
    env = dict(os.environ, GIT_AUTHOR_DATE="2026-01-01T12:00:00Z", GIT_COMMITTER_DATE="2026-01-01T12:00:00Z")
    subprocess.run(["git", "commit", "-q", "-m", "Initial prompts"], cwd=root, check=True, env=env)


# A prompt whose two tests are both described `same`: `alpha`, then `beta`
SAME_DESCRIBED = (
    "inputs: {x: {type: string}}\nmessages:\n  - {role: user, content: '{{ x }}'}\ntests:\n"
    "  - {description: same, vars: {x: alpha}, assert: [{type: contains, value: alpha}]}\n"
    "  - {description: same, vars: {x: beta}, assert: [{type: contains, value: beta}]}\n"
)


def build_same_described_repo(root: Path) -> Path:
    """A Git repository at `root` whose one commit holds `prompts/t.yaml`, `SAME_DESCRIBED`
    (the comparisons of cases sharing a description); returns the prompt file."""
    (root / "prompts").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    path = root / "prompts" / "t.yaml"
    path.write_text(SAME_DESCRIBED)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "t")
    return path


@pytest.fixture
def prompt_repo(repo_templates: RepoTemplates, tmp_path: Path) -> Path:
    """A real Git repository holding a copy of the sample prompts, one commit on `main`."""
    return repo_templates.copy("prompts", build_prompt_repo, tmp_path / "repo")


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One demo repository per run, built as `isolated_env` would (5-20 s): under pytest-xdist the
    first worker to ask builds it in the run's shared temporary folder, the others wait and read it."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.mktemp("demo-template") / "demo"
        _build_demo(root, tmp_path_factory)
        return root
    shared = tmp_path_factory.getbasetemp().parent / "demo-template"  # the workers' common parent
    shared.mkdir(exist_ok=True)
    root, done = shared / "demo", shared / "done"
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)  # what a worker that failed to build left
            _build_demo(root, tmp_path_factory)
            done.touch()
    return root


def _build_demo(root: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    from workbench.cli.common import run_app

    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(tmp_path_factory.mktemp("home"), monkeypatch)
        assert run_app(["demo", str(root), "--no-open"]) == 0


@pytest.fixture
def demo_repo(demo_template: Path, tmp_path: Path) -> Path:
    """A copy of the demo repository of its own: tests that read, serve or change the demo."""
    root = tmp_path / "demo"
    shutil.copytree(demo_template, root, symlinks=True)
    return root
