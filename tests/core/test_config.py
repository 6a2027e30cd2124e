from __future__ import annotations

from workbench.core.config import DEFAULT_ENVIRONMENTS, parse_config


def test_defaults_when_empty() -> None:
    config, problems = parse_config("")
    assert config.environments == DEFAULT_ENVIRONMENTS and not problems


def test_values_are_read() -> None:
    config, problems = parse_config("environments: [dev, prod]\nmodel: {provider: local}\nconcurrency: 4\n")
    assert not problems
    assert config.environments == ("dev", "prod") and config.provider == "local" and config.concurrency == 4


def test_problems_have_positions() -> None:
    _config, problems = parse_config("environments: [dev, dev]\nconcurency: 4\n")
    formatted = [p.format() for p in problems]
    assert any(f.startswith("workbench.yaml:2:1:") and "concurency" in f and "concurrency" in f for f in formatted), formatted
    assert any("non-unique" in f or "unique" in f for f in formatted), formatted
