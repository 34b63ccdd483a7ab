"""Fixtures for the rule tests: the shipped mappings (the case format lives in cases.py)."""

from __future__ import annotations

import pytest

from mappings import Mappings, load_mappings


@pytest.fixture(scope="session")
def mappings() -> Mappings:
    return load_mappings()
