"""Each recorded case in fixtures/ gives exactly its decisions, Zendesk updates and a fixed point."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from mappings import Mappings
from sync.snapshot import Provisioned, build_updates
from tests.triggers.cases import fixture_paths, load_case
from triggers.model import FIELD_DATA_MAINTENANCE_APPROVED, FIELD_KEYS
from triggers.router import apply_actions, merge_decisions
from triggers.rules import RULE_MODULES, default_router

PATHS = fixture_paths()
IDS = [p.stem for p in PATHS]


def provisioned(mappings: Mappings) -> Provisioned:
    """Fixed ids, as the fixtures' zendesk_updates were recorded with."""
    return Provisioned(
        custom_statuses={s.value: 1001 + i for i, s in enumerate(mappings.statuses)},
        fields={key: 2001 + i for i, key in enumerate(FIELD_KEYS)},
        checkbox_tags={FIELD_DATA_MAINTENANCE_APPROVED: "mo_data_maintenance_approved"},
    )


def group_ids(mappings: Mappings) -> dict[str, int]:
    return {t.zendesk_group: 3001 + i for i, t in enumerate(mappings.teams)}


def test_every_rule_module_has_fixtures() -> None:
    """Adding a rule module without recorded cases fails here."""
    covered = {p.stem.split("__", 1)[0] for p in PATHS}
    assert set(RULE_MODULES) <= covered
    assert covered <= set(RULE_MODULES), "fixture named after an unknown rule module"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_fixture_decisions_are_exact(path: Path, mappings: Mappings) -> None:
    """The default router makes exactly the recorded decisions for the recorded ticket and event."""
    case = load_case(path)
    decisions = default_router().dispatch(case.snapshot, case.event, mappings, case.now)
    assert decisions == list(case.decisions)


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_fixture_rule_module_alone(path: Path, mappings: Mappings) -> None:
    """The fixture's own rule module, on its own router, makes its share of the decisions."""
    case = load_case(path)
    module = importlib.import_module(f"triggers.rules.{case.rule_module}")
    mine = set(module.router.rule_names)
    decisions = module.router.dispatch(case.snapshot, case.event, mappings, case.now)
    assert decisions == [d for d in case.decisions if d.rule in mine]


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_fixture_zendesk_updates_are_exact(path: Path, mappings: Mappings) -> None:
    """The merged actions become exactly the recorded Zendesk update payloads (sync/'s builder)."""
    case = load_case(path)
    actions = merge_decisions(case.snapshot, case.decisions, mappings)
    updates = build_updates(
        case.snapshot, actions, provisioned(mappings), mappings, group_ids(mappings)
    )
    assert updates == case.zendesk_updates


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_fixture_reaches_fixed_point(path: Path, mappings: Mappings) -> None:
    """Applying the merged actions and running every rule again on the same event does nothing."""
    case = load_case(path)
    router = default_router()
    decisions = router.dispatch(case.snapshot, case.event, mappings, case.now)
    after = apply_actions(
        case.snapshot, merge_decisions(case.snapshot, decisions, mappings), mappings
    )
    again = router.dispatch(after, case.event, mappings, case.now)
    if any(not d.bookkeeping for d in decisions):
        assert again == []
    else:  # nothing written: the same bookkeeping is found again, and again writes nothing
        assert again == decisions
        assert merge_decisions(after, again, mappings) == ()
