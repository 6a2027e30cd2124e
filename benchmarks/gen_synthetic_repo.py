"""Generate (once) and cache a large synthetic prompt repository for the benchmarks.

2,000 prompts, 20,000 commits, 50 branches, 2,000 release tags and 3,000 deployment
events, built in seconds with one `git fast-import` stream (no working-tree churn). The
result is cached under `benchmarks/.data/` (git-ignored); other benchmarks reuse it:

    from benchmarks.gen_synthetic_repo import ensure_synthetic_repo
    root = ensure_synthetic_repo()

Run directly to (re)build it: `python benchmarks/gen_synthetic_repo.py [--force]`.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.core.versions import (
    DeploymentEvent,
    deploy_tag_name,
    format_event_message,
    make_seq,
    release_label,
    release_tag_name,
)

DATA_DIR = Path(__file__).resolve().parent / ".data"
LAYOUT_VERSION = 1  # bump when the generated content changes
PROMPTS = 2000
COMMITS = 20000
BRANCHES = 50
RELEASES = 2000
DEPLOY_EVENTS = 3000
HOT_PROMPT = 7  # one prompt touched by ~1 in 11 commits (~1,800 commits), like a busy real one
ENVS = ("dev", "staging", "prod")
START = datetime(2024, 1, 1, tzinfo=UTC)
AUTHORS = [("Ada Lovelace", "ada@example.com"), ("Grace Hopper", "grace@example.com"), ("Alan Turing", "alan@example.com")]


def prompt_path(index: int) -> str:
    return f"prompts/team{index % 20:02d}/prompt{index:04d}.yaml"


def prompt_name(index: int) -> str:
    return f"team{index % 20:02d}/prompt{index:04d}"


def prompt_text(index: int, revision: int) -> str:
    filler = "\n".join(
        f"      Rule {k + 1}: be precise about item {(index * 7 + k + revision // 3) % 97} and cite the ticket."
        for k in range(8)
    )
    return f"""\
description: Synthetic prompt {index} for benchmarks
owner: team-{index % 20}
tags: [synthetic, team-{index % 20}]
model:
  provider: echo
  name: bench-model
  parameters: {{temperature: 0.{revision % 10}, max_tokens: {200 + revision % 50}}}
inputs:
  ticket: {{type: string, required: true}}
  tone: {{type: string, default: neutral}}
messages:
  - role: system
    content: |
      You are support assistant {index}, revision {revision}.
      Answer in a {{{{ tone }}}} tone and keep it under {50 + revision % 100} words.
{filler}
  - role: user
    content: "Ticket: {{{{ ticket }}}}"
tests:
  - description: mentions the ticket
    vars: {{ticket: "order {revision} is late"}}
    assert:
      - type: icontains
        value: order
"""


def _data(text: str) -> bytes:
    raw = text.encode("utf-8")
    return b"data %d\n" % len(raw) + raw + b"\n"


def _stamp(moment: datetime) -> str:
    return f"{int(moment.timestamp())} +0000"


def build(target: Path) -> None:
    """Write the repository at `target` with one fast-import stream."""
    rng = random.Random(42)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(target)], check=True)
    stream: list[bytes] = []
    revisions = [0] * PROMPTS
    touched_by: list[int] = []  # commit number -> prompt index
    moment = START

    def commit(ref: str, mark: int, parent: int | None, message: str, files: list[tuple[str, str]]) -> None:
        nonlocal moment
        moment += timedelta(seconds=rng.randint(30, 3000))
        author, email = AUTHORS[mark % len(AUTHORS)]
        stream.append(f"commit {ref}\nmark :{mark}\n".encode())
        stream.append(f"author {author} <{email}> {_stamp(moment)}\n".encode())
        stream.append(f"committer {author} <{email}> {_stamp(moment)}\n".encode())
        stream.append(_data(message))
        if parent is not None:
            stream.append(f"from :{parent}\n".encode())
        for path, text in files:
            stream.append(f"M 100644 inline {path}\n".encode())
            stream.append(_data(text))
        stream.append(b"\n")

    commit("refs/heads/main", 1, None, "Add 2,000 prompts", [(prompt_path(i), prompt_text(i, 0)) for i in range(PROMPTS)])
    touched_by.append(-1)
    main_commits = COMMITS - BRANCHES * 5
    for number in range(2, main_commits + 1):
        index = HOT_PROMPT if number % 11 == 0 else rng.randrange(PROMPTS)
        revisions[index] += 1
        commit(
            "refs/heads/main",
            number,
            number - 1,
            f"Tune {prompt_name(index)}: revision {revisions[index]}",
            [(prompt_path(index), prompt_text(index, revisions[index]))],
        )
        touched_by.append(index)
    mark = main_commits
    for branch in range(BRANCHES):
        base = rng.randrange(main_commits // 2, main_commits)
        parent = base
        for step in range(5):
            mark += 1
            index = rng.randrange(PROMPTS)
            commit(
                f"refs/heads/feature/b{branch:02d}",
                mark,
                parent,
                f"Experiment {step} on {prompt_name(index)}",
                [(prompt_path(index), prompt_text(index, 10_000 + mark))],
            )
            parent = mark
    # Release tags: every 10th main commit releases the prompt it touched.
    numbers = [0] * PROMPTS
    releases: list[tuple[int, int, int]] = []  # (prompt, number, commit mark)
    for number in range(10, main_commits + 1, (main_commits - 10) // RELEASES):
        index = touched_by[number - 1]
        if index < 0 or len(releases) >= RELEASES:
            continue
        numbers[index] += 1
        releases.append((index, numbers[index], number))
        tagger_time = START + timedelta(days=1, seconds=number * 600)
        stream.append(f"tag {release_tag_name(prompt_name(index), numbers[index])}\nfrom :{number}\n".encode())
        stream.append(f"tagger Release Bot <ci@example.com> {_stamp(tagger_time)}\n".encode())
        stream.append(_data(f"Release {release_label(prompt_name(index), numbers[index])}\n"))
    stream.append(b"done\n")
    marks_file = target / ".git" / "bench-marks"
    subprocess.run(
        ["git", "fast-import", "--quiet", "--done", f"--export-marks={marks_file}"],
        cwd=target,
        input=b"".join(stream),
        check=True,
    )
    shas = {}
    for line in marks_file.read_text().splitlines():
        mark_text, sha = line.split()
        shas[int(mark_text[1:])] = sha
    marks_file.unlink()
    # Deployment events: promote releases through the environments, with some rollbacks.
    events: list[bytes] = []
    current: dict[tuple[int, str], tuple[int, int]] = {}
    seq_moment = START + timedelta(days=400)
    for count in range(DEPLOY_EVENTS):
        index, version, mark_of = releases[rng.randrange(len(releases))]
        env = ENVS[count % len(ENVS)]
        previous = current.get((index, env))
        seq_moment += timedelta(seconds=rng.randint(1, 600))
        seq = make_seq(seq_moment, f"{rng.getrandbits(32):08x}")
        name = prompt_name(index)
        tag = deploy_tag_name(env, name, seq)
        event = DeploymentEvent(
            tag=tag,
            prompt=name,
            env=env,
            seq=seq,
            action="rollback" if previous and count % 7 == 0 else "promote",
            version=release_label(name, version),
            commit=shas[mark_of],
            previous_version=release_label(name, previous[0]) if previous else None,
            previous_commit=shas[previous[1]] if previous else None,
            reason=f"synthetic deployment {count}",
            who="Deploy Bot <ci@example.com>",
            when=seq_moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            tests="✓ 1/1",
        )
        current[(index, env)] = (version, mark_of)
        events.append(f"tag {tag}\nfrom {shas[mark_of]}\n".encode())
        events.append(f"tagger Deploy Bot <ci@example.com> {_stamp(seq_moment)}\n".encode())
        events.append(_data(format_event_message(event)))
    events.append(b"done\n")
    subprocess.run(["git", "fast-import", "--quiet", "--done"], cwd=target, input=b"".join(events), check=True)
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=target, check=True)
    subprocess.run(["git", "pack-refs", "--all"], cwd=target, check=True)  # as `git gc` leaves a real repo
    subprocess.run(
        ["git", "commit-graph", "write", "--reachable", "--changed-paths"], cwd=target, check=True, capture_output=True
    )
    (target / ".workbench-synthetic").write_text(f"{LAYOUT_VERSION}\n")


def ensure_synthetic_repo(force: bool = False) -> Path:
    """The cached synthetic repository (built on first use, ~10-30 s)."""
    target = DATA_DIR / f"synthetic-v{LAYOUT_VERSION}"
    marker = target / ".workbench-synthetic"
    if force or not marker.exists():
        started = time.perf_counter()
        build(target)
        print(f"built {target} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    args = parser.parse_args()
    root = ensure_synthetic_repo(force=args.force)
    counts = {
        "commits": subprocess.run(["git", "rev-list", "--all", "--count"], cwd=root, capture_output=True, text=True).stdout.strip(),
        "tags": str(len(subprocess.run(["git", "tag"], cwd=root, capture_output=True, text=True).stdout.splitlines())),
        "branches": str(len(subprocess.run(["git", "branch"], cwd=root, capture_output=True, text=True).stdout.splitlines())),
    }
    print(f"{root}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
