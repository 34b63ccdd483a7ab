"""Fixtures for auto-solve tests: the real teams of mappings/teams.toml."""

from __future__ import annotations

import pytest

from mappings import Mappings, Team, load_mappings


@pytest.fixture(scope="session")
def mappings() -> Mappings:
    return load_mappings()


@pytest.fixture(scope="session")
def all_media(mappings: Mappings) -> Team:
    return mappings.team("all_media")


@pytest.fixture(scope="session")
def canadian_spot(mappings: Mappings) -> Team:
    return mappings.team("canadian_spot")
