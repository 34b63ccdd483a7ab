"""Fixtures for auto-solve tests: the real teams of mappings/teams.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from mappings import Mappings, Team
from triggers.autosolve import AutoSolveConfig


@pytest.fixture(scope="session")
def all_media(mappings: Mappings) -> Team:
    return mappings.team("all_media")


@pytest.fixture(scope="session")
def canadian_spot(mappings: Mappings) -> Team:
    return mappings.team("canadian_spot")


@pytest.fixture(scope="session")
def sweep_settings() -> dict[str, Any]:
    """The shipped [sweep] section of settings.toml."""
    with (Path(__file__).parents[2] / "settings.toml").open("rb") as handle:
        section: dict[str, Any] = tomllib.load(handle)["sweep"]
    return section


@pytest.fixture(scope="session")
def config(sweep_settings: dict[str, Any], mappings: Mappings) -> AutoSolveConfig:
    return AutoSolveConfig.from_settings(sweep_settings, mappings)
