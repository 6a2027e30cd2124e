"""The installed version of a distribution, read from its `.dist-info` folder's name."""

from __future__ import annotations

from importlib import metadata

import pytest

from workbench.core.installed import installed_version


@pytest.mark.parametrize(("distribution", "package"), [("jsonschema", None), ("PyYAML", "yaml"), ("Jinja2", "jinja2"), ("typing_extensions", None)])
def test_it_agrees_with_importlib_metadata(distribution: str, package: str | None) -> None:
    assert installed_version(distribution, package) == metadata.version(distribution)


def test_a_distribution_not_installed_is_a_question_mark() -> None:
    assert installed_version("no-such-distribution-here") == "?"
