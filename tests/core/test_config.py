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
    assert any("listed twice" in f for f in formatted), formatted


def test_streaming_is_not_a_default_model_parameter() -> None:
    _config, problems = parse_config("model:\n  parameters: {temperature: 0, stream: true}\n")
    (problem,) = problems
    assert problem.format().startswith("workbench.yaml:2:") and "model.parameters.stream is not allowed here" in problem.message


GUARDED = """\
environments:
  - dev
  - staging
  - name: prod
    from: staging
    require_tests: pass
    soak: 1h30m
    approvals: 1
"""


def test_environments_may_carry_policies() -> None:
    from datetime import timedelta

    config, problems = parse_config(GUARDED)
    assert not problems
    assert config.environments == ("dev", "staging", "prod")
    prod = config.policies["prod"]
    assert (prod.from_env, prod.require_tests, prod.soak, prod.approvals) == ("staging", "pass", timedelta(hours=1, minutes=30), 1)
    assert set(config.policies) == {"prod"}  # plain names carry no policy


def test_policy_problems_name_line_and_fix() -> None:
    text = "environments:\n  - dev\n  - name: prod\n    from: stagin\n    soak: 2x\n    approvals: -1\n  - dev\n"
    _config, problems = parse_config(text)
    formatted = [p.format() for p in problems]
    assert any(f.startswith("workbench.yaml:5:") and "soak" in f for f in formatted), formatted
    assert any(f.startswith("workbench.yaml:6:") and "approvals" in f for f in formatted), formatted
    _config, problems = parse_config("environments:\n  - dev\n  - name: prod\n    from: stagin\n  - dev\n")
    formatted = [p.format() for p in problems]
    assert any(f.startswith("workbench.yaml:4:") and "'stagin' is not an environment" in f for f in formatted), formatted
    assert any(f.startswith("workbench.yaml:5:") and "listed twice" in f for f in formatted), formatted
    _config, problems = parse_config("environments:\n  - dev\n  - name: prod\n    soak: 1h\n")
    assert any("soak needs `from`" in p.format() for p in problems)
    _config, problems = parse_config("environments:\n  - name: prod\n    require_tests: yes\n")
    assert any("require_tests" in p.format() for p in problems)
