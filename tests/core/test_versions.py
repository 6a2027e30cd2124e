"""Pure naming rules for release and deployment tags, and the event message format."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime

import pytest

from workbench.core.versions import (
    Canary,
    DeploymentEvent,
    decode_ref_component,
    deploy_tag_name,
    encode_ref_component,
    format_event_message,
    make_seq,
    parse_deploy_tag,
    parse_event_message,
    parse_release_tag,
    release_tag_name,
)


@pytest.mark.parametrize(
    "name",
    ["support/summarize", "my prompt", "ünïcode/日本語 prompt", "weird..name", ".hidden/x.lock", "a:b~c^d?e*f[g", "50%"],
)
def test_prompt_names_round_trip_through_valid_ref_names(name: str) -> None:
    tag = release_tag_name(name, 3)
    check = subprocess.run(["git", "check-ref-format", f"refs/tags/{tag}"], capture_output=True)
    assert check.returncode == 0, tag
    assert parse_release_tag(tag) == (name, 3)
    assert decode_ref_component(encode_ref_component(name)) == name
    seq = make_seq(datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), "abcdef0123")
    dtag = deploy_tag_name("prod", name, seq)
    assert subprocess.run(["git", "check-ref-format", f"refs/tags/{dtag}"]).returncode == 0
    assert parse_deploy_tag(dtag) == ("prod", name, seq)


def test_seq_sorts_by_time_then_suffix_and_never_goes_backwards() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    seq = make_seq(now, "0" * 8)
    assert seq == "20260102030405678-00000000"
    later_clock = make_seq(datetime(2026, 1, 2, 3, 4, 6, tzinfo=UTC), "f" * 8)
    assert later_clock > seq
    # A clone whose clock is behind still orders its event after the one it has seen.
    behind = make_seq(datetime(2026, 1, 1, tzinfo=UTC), "1" * 8, after=later_clock)
    assert behind > later_clock and behind.startswith("20260102030406001")
    rollover = make_seq(now, "2" * 8, after="20261231235959999-aaaaaaaa")
    assert rollover.startswith("20270101000000000")


def test_event_message_round_trips_with_awkward_text() -> None:
    event = DeploymentEvent(
        tag="deploy/prod/support/summarize/20260102030405678-00000000",
        prompt="support/summarize",
        env="prod",
        seq="20260102030405678-00000000",
        action="split",
        version="support/summarize@v2",
        commit="a" * 40,
        previous_version="support/summarize@v1",
        previous_commit="b" * 40,
        reason='multi\nline: "reason" [bold]# not a comment',
        who="Test User <test@example.com>",
        when="2026-01-02T03:04:05.678Z",
        tests="✓ 12/12",
        canary=Canary("support/summarize@v3", "c" * 40, 10.0),
    )
    message = format_event_message(event)
    assert message.splitlines()[0].startswith("split support/summarize in prod: 10%")
    parsed = parse_event_message(event.tag, event.commit, message)
    assert parsed == event
    import yaml

    body = yaml.safe_load(message.split("\n\n", 1)[1])
    assert body["canary"]["percent"] == 10.0 and body["reason"] == event.reason
