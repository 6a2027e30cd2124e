"""How one problem is printed: `path:line:col: severity: message`, as compilers and editors read it."""

from __future__ import annotations

from workbench.core.model import Problem, Severity


def test_a_problem_with_a_position_names_it() -> None:
    assert Problem("prompts/a.yaml", 3, 7, "unknown key 'x'", Severity.WARNING).format() == "prompts/a.yaml:3:7: warning: unknown key 'x'"


def test_a_problem_of_the_whole_file_names_no_position() -> None:
    """`workbench.yaml:0:0: error: cannot read ...`: no such line or column exists (lines count
    from 1), and an editor's jump-to-error went to a place that is not there."""
    problem = Problem("workbench.yaml", 0, 0, "cannot read the file", hint="check its permissions")
    assert problem.format() == "workbench.yaml: error: cannot read the file (hint: check its permissions)"
    assert problem.to_dict()["line"] == 0  # the JSON keeps its fields
