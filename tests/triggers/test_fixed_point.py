"""Property checks over seeded random tickets: rules reach a fixed point and explain every change.

hypothesis is not installed; a seeded `random.Random` draws snapshots over the shipped mappings
(consistent and inconsistent statuses, any resolution type and product, stray tags, replies of
every kind) so a failure names its seed and case and can be replayed.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest

from mappings import Mappings
from mappings.model import STATUS_TAG_PREFIX
from triggers import texts
from triggers.model import (
    COMMENT_ADDED,
    EVENT_KINDS,
    FIELD_AUTO_SOLVE_DUE,
    FIELD_DATA_MAINTENANCE_APPROVED,
    FIELD_DUPLICATE_OF,
    FIELD_PRODUCT,
    FIELD_RESOLUTION_TYPE,
    Comment,
    Decision,
    FieldValue,
    InternalNote,
    SetCustomStatus,
    SetField,
    TicketEvent,
    TicketSnapshot,
)
from triggers.router import apply_actions, is_state_changing, merge_decisions
from triggers.rules import default_router

SEED = 20261127
CASES = 1500
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
REQUESTER, AGENT, CC, SERVICE = 501, 601, 777, 9000
CATEGORIES = ("new", "open", "pending", "hold", "solved", "closed")
RULE_TAGS = (
    "mo_dma_requested",
    "mo_dma_approved",
    "mo_dma_not_approved",
    "mo_duplicate_of_requested",
    "mo_routed_account_management",
    "mo_managed_by_third_party",
    "mo_managed_by_client",
    "mo_data_maintenance_approved",
    "mo_autosolve_reminded",
    "mo_autosolved",
    "vip",
)
REPLIES = (
    "Yes, go ahead.",
    "I approve",
    "No, don't.",
    "Please wait until Monday.",
    "What will change?",
    "Approved, no problem.",
    "",
)


def random_snapshot(rng: random.Random, mappings: Mappings, kind: str) -> TicketSnapshot:
    status = rng.choice(CATEGORIES)
    same_category = [s.value for s in mappings.statuses if s.category == status]
    anything = [s.value for s in mappings.statuses] + [None, "retired_status"]
    custom = (
        rng.choice(same_category) if same_category and rng.random() < 0.5 else rng.choice(anything)
    )
    status_tags = [s.tag for s in mappings.statuses] + [STATUS_TAG_PREFIX + "retired"]
    tags = set(rng.sample(status_tags, rng.randint(0, 2)))
    if custom and rng.random() < 0.5:
        tags.add(STATUS_TAG_PREFIX + custom)
    tags |= set(rng.sample(RULE_TAGS, rng.randint(0, 3)))
    types = [t.value for t in mappings.resolution_types] + [None, "mo_res_retired"]
    products = [p.value for p in mappings.products] + [None, "mo_product_retired"]
    fields: dict[str, FieldValue] = {
        FIELD_RESOLUTION_TYPE: rng.choice(types),
        FIELD_PRODUCT: rng.choice(products),
        FIELD_DUPLICATE_OF: rng.choice((None, 4702)),
        FIELD_DATA_MAINTENANCE_APPROVED: rng.choice((None, False, True)),
        FIELD_AUTO_SOLVE_DUE: rng.choice((None, date(2026, 12, 2))),
    }
    comments: list[Comment] = []
    if kind == COMMENT_ADDED or rng.random() < 0.5:
        at = NOW - timedelta(days=3)
        comments.append(Comment(REQUESTER, True, at, "Buy lines missing.", False))
        for _ in range(rng.randint(0, 3)):
            at += timedelta(hours=rng.randint(0, 20))
            author = rng.choice((REQUESTER, AGENT, CC, SERVICE))
            agent = author in (AGENT, SERVICE)
            body = (
                texts.DMA_REQUEST_PUBLIC.format(type_name="Data fix/patch")
                if author == SERVICE
                else rng.choice(REPLIES)
            )
            comments.append(Comment(author, rng.random() < 0.8, at, body, agent))
    groups = [t.zendesk_group for t in mappings.teams] + [None]
    return TicketSnapshot(
        id=4711,
        status=status,
        custom_status=custom,
        updated_stamp="2026-11-27T14:59:00Z",
        requester_id=REQUESTER,
        tags=frozenset(tags),
        group=rng.choice(groups),
        fields=fields,
        comments=tuple(comments),
    )


def random_cases(mappings: Mappings) -> list[tuple[int, TicketSnapshot, TicketEvent]]:
    rng = random.Random(SEED)
    cases = []
    for index in range(CASES):
        kind = rng.choice(EVENT_KINDS)
        by_service = rng.random() < 0.2
        event = TicketEvent(
            kind=kind,
            ticket_id=4711,
            invocation_id=f"inv-{index}",
            actor_id=SERVICE if by_service else rng.choice((AGENT, REQUESTER)),
            by_service=by_service,
        )
        cases.append((index, random_snapshot(rng, mappings, kind), event))
    return cases


@pytest.fixture(scope="module")
def cases(mappings: Mappings) -> list[tuple[int, TicketSnapshot, TicketEvent]]:
    return random_cases(mappings)


def test_generator_reaches_every_rule(
    cases: list[tuple[int, TicketSnapshot, TicketEvent]], mappings: Mappings
) -> None:
    """The random tickets are varied enough that every rule acts somewhere (else the proof is empty)."""
    router = default_router()
    acted = {d.rule for _, s, e in cases for d in router.dispatch(s, e, mappings, NOW)}
    assert acted == set(router.rule_names)


def test_rules_reach_a_fixed_point(
    cases: list[tuple[int, TicketSnapshot, TicketEvent]], mappings: Mappings
) -> None:
    """Applying the merged actions and running every rule again on the same event does nothing."""
    router = default_router()
    for index, snapshot, event in cases:
        decisions = router.dispatch(snapshot, event, mappings, NOW)
        after = apply_actions(snapshot, merge_decisions(snapshot, decisions, mappings), mappings)
        again = router.dispatch(after, event, mappings, NOW)
        # Bookkeeping alone (mirrored tags) is not written, so it is found again: still nothing
        # to write, which is the fixed point that matters (no write loops).
        assert merge_decisions(after, again, mappings) == (), (
            f"seed {SEED} case {index}: {snapshot} {event} -> {again}"
        )
        if any(not d.bookkeeping for d in decisions):
            assert again == [], f"seed {SEED} case {index}: {snapshot} {event} -> {again}"


def test_state_changes_carry_a_plain_words_note(
    cases: list[tuple[int, TicketSnapshot, TicketEvent]], mappings: Mappings
) -> None:
    """Every decision that changes what a person set explains it in one filled-in internal note;
    bookkeeping (mirrored tags) and Zendesk's generic status becoming the guide's default for
    the same category carry none (the audit records them)."""
    router = default_router()
    for index, snapshot, event in cases:
        for decision in router.dispatch(snapshot, event, mappings, NOW):
            notes = [a for a in decision.actions if isinstance(a, InternalNote)]
            if decision.bookkeeping or decision.reason == texts.STATUS_GENERIC_REASON:
                assert notes == [], f"case {index}: {decision}"
            elif any(is_state_changing(a) for a in decision.actions):
                assert len(notes) == 1, f"case {index}: {decision}"
                body = notes[0].body
                assert len(body) > 40 and "{" not in body and "}" not in body, body
                assert decision.reason, decision


def _solved_without_approval(snapshot: TicketSnapshot, mappings: Mappings) -> bool:
    rtype = mappings.resolution_type(str(snapshot.field(FIELD_RESOLUTION_TYPE) or ""))
    approved = snapshot.field(FIELD_DATA_MAINTENANCE_APPROVED) is True or (
        "mo_dma_approved" in snapshot.tags
    )
    return (
        snapshot.status == "solved"
        and rtype is not None
        and rtype.requires_data_maintenance_approval
        and not approved
    )


def test_rules_leave_tickets_as_the_guide_says(
    cases: list[tuple[int, TicketSnapshot, TicketEvent]], mappings: Mappings
) -> None:
    """After the rules: status agrees with its category, one status tag, and (for people's
    events) no solved ticket on a data change without approval or on a type not for its product."""
    router = default_router()
    for index, snapshot, event in cases:
        if snapshot.status == "closed":
            continue
        merged = merge_decisions(
            snapshot, router.dispatch(snapshot, event, mappings, NOW), mappings
        )
        after = apply_actions(snapshot, merged, mappings)
        assert after.custom_status is not None
        assert mappings.status(after.custom_status).category == after.status, index
        # Status tags are kept in step by the provisioned status-tag triggers in Zendesk, and by
        # cxlayer only inside a write that happens anyway.
        assert not merged or sorted(t for t in after.tags if t.startswith(STATUS_TAG_PREFIX)) == [
            STATUS_TAG_PREFIX + after.custom_status
        ], index
        if event.by_service:
            continue
        assert not _solved_without_approval(after, mappings), index
        rtype = mappings.resolution_type(str(after.field(FIELD_RESOLUTION_TYPE) or ""))
        if after.status == "solved" and rtype is not None and rtype.products:
            product = mappings.product(str(after.field(FIELD_PRODUCT) or ""))
            assert product is not None and product.key in rtype.products, index


def test_service_events_change_nothing_but_status_consistency(
    cases: list[tuple[int, TicketSnapshot, TicketEvent]], mappings: Mappings
) -> None:
    """Loop safety: on the service's own events only status mapping may act."""
    router = default_router()
    for _, snapshot, event in cases:
        if event.by_service:
            rules = {d.rule for d in router.dispatch(snapshot, event, mappings, NOW)}
            assert rules <= {"status_mapping"}


def test_decisions_are_deterministic(
    cases: list[tuple[int, TicketSnapshot, TicketEvent]], mappings: Mappings
) -> None:
    """Pure rules: the same ticket and event always give the same decisions."""
    router = default_router()
    for _, snapshot, event in cases[:200]:
        first: list[Decision] = router.dispatch(snapshot, event, mappings, NOW)
        assert router.dispatch(snapshot, event, mappings, NOW) == first


def test_no_rule_overrides_another_rules_status_or_field(
    cases: list[tuple[int, TicketSnapshot, TicketEvent]], mappings: Mappings
) -> None:
    """Every status and field a decision sets is what the ticket ends with, so no note in the
    merged update describes a change another rule undid."""
    router = default_router()
    for index, snapshot, event in cases:
        decisions = router.dispatch(snapshot, event, mappings, NOW)
        after = apply_actions(snapshot, merge_decisions(snapshot, decisions, mappings), mappings)
        for decision in decisions:
            for action in decision.actions:
                if isinstance(action, SetCustomStatus):
                    assert after.custom_status == action.value, (index, decision.rule)
                if isinstance(action, SetField):
                    assert after.field(action.key) == action.value, (index, decision.rule)
