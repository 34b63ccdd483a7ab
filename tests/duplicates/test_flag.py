"""find_duplicates end to end on the index, the flag decision, its note and suppressed pairs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.duplicates.conftest import NOW, row
from triggers.duplicates import (
    DEFAULT_FLAG_THRESHOLD,
    DuplicateSettings,
    TicketIndex,
    decide_new_ticket,
    feedback_pair,
    find_duplicates,
    flag_decision,
    pair_key,
    texts,
)
from triggers.duplicates.scoring import Match
from triggers.model import FIELD_DUPLICATE_OF, AddTags, InternalNote, SetField, TicketSnapshot

FIRST = (
    "Campaign budget changes are not saved",
    "Hi,\nwhen I change the budget of the Spring Launch campaign and press Save, the old budget "
    "comes back after a reload. This blocks our flighting.\nBest regards,\nLena",
)
SECOND = (
    "Re: budget of Spring Launch campaign not saving",
    "Hello support,\nI still cannot save the new budget for the Spring Launch campaign, it goes "
    "back to the old value when I reload the page.\n\nSent from my iPhone",
)


def _setup(index: TicketIndex) -> None:
    index.upsert(row(200, *FIRST, created_at=NOW - timedelta(hours=5)))
    index.upsert(
        row(
            201,
            "Invoice address",
            "Please update our invoice address.",
            created_at=NOW - timedelta(days=2),
        )
    )


def test_same_requester_same_issue_is_found_first(
    index: TicketIndex, settings: DuplicateSettings
) -> None:
    _setup(index)
    new = index.upsert(row(202, *SECOND)).row
    matches = find_duplicates(new, index, index.model, settings)
    assert [m.candidate_id for m in matches] == [200, 201]
    assert matches[0].score >= settings.flag_threshold > matches[1].score
    assert matches[0].matching_sentences
    assert matches[0].signals["days_apart"] == pytest.approx(5 / 24, abs=0.01)


def test_other_requester_with_the_same_text_is_not_a_candidate(
    index: TicketIndex, settings: DuplicateSettings
) -> None:
    _setup(index)
    new = index.upsert(row(203, *SECOND, requester_id=555)).row
    assert find_duplicates(new, index, index.model, settings) == []


def test_ticket_not_yet_indexed_is_scored_without_learning(
    index: TicketIndex, settings: DuplicateSettings
) -> None:
    """Scoring a ticket that is not in the index leaves the idf model untouched."""
    _setup(index)
    before = (index.model.n_docs, len(index.model.vocabulary))
    matches = find_duplicates(row(204, *SECOND), index, index.model, settings)
    assert matches[0].candidate_id == 200
    assert (index.model.n_docs, len(index.model.vocabulary)) == before


def test_snapshots_are_accepted(index: TicketIndex, settings: DuplicateSettings) -> None:
    _setup(index)
    snapshot = TicketSnapshot(
        id=205,
        status="new",
        custom_status=None,
        updated_stamp="x",
        requester_id=100,
        subject=SECOND[0],
        description=SECOND[1],
        organization_id=7,
        created_at=NOW,
    )
    assert find_duplicates(snapshot, index, index.model, settings)[0].candidate_id == 200


def test_flag_decision_tags_sets_duplicate_of_and_explains(
    index: TicketIndex, settings: DuplicateSettings
) -> None:
    _setup(index)
    new = index.upsert(row(202, *SECOND)).row
    matches = find_duplicates(new, index, index.model, settings)
    decision = flag_decision(202, matches, settings)
    assert decision is not None
    tag, field, note = decision.actions
    assert tag == AddTags((texts.TAG_POSSIBLE_DUPLICATE, texts.TAG_FLAG_WATCH))
    assert field == SetField(FIELD_DUPLICATE_OF, 200)
    assert isinstance(note, InternalNote)
    assert note.body.startswith(texts.NOTE_HEADER)
    assert (
        texts.NOTE_CANDIDATE.format(
            ticket_id=200, score=matches[0].score, threshold=settings.flag_threshold
        )
        in note.body
    )
    assert "#201" not in note.body  # below the threshold: not listed
    new_sentence, old_sentence = matches[0].matching_sentences[0]
    assert (
        texts.NOTE_SENTENCE_PAIR.format(new=new_sentence, old=old_sentence, ticket_id=200)
        in note.body
    )
    assert note.body.endswith(texts.NOTE_FOOTER.format(best_id=200))
    assert "200" in decision.reason


def test_no_decision_below_the_threshold() -> None:
    matches = [Match(7, 0.1, [], {})]
    assert flag_decision(8, matches, DuplicateSettings(flag_threshold=0.5)) is None
    assert flag_decision(8, [], DuplicateSettings()) is None


def test_note_lists_several_candidates_best_first_and_mentions_references() -> None:
    matches = [
        Match(3, 0.7, [], {"references_candidate": True}),
        Match(4, 0.9, [("a", "b")], {}),
        Match(5, 0.6, [], {}),
        Match(6, 0.55, [], {}),
    ]
    decision = flag_decision(9, matches, DuplicateSettings(flag_threshold=0.5, note_candidates=3))
    assert decision is not None
    note = decision.actions[2]
    assert isinstance(note, InternalNote)
    body = note.body
    assert body.index("#4 ") < body.index("#3 ") < body.index("#5 ")
    assert "#6 " not in body
    assert texts.NOTE_REFERENCE.format(ticket_id=3) in body
    assert decision.actions[1] == SetField(FIELD_DUPLICATE_OF, 4)


def test_suppressed_pair_is_never_flagged_again(
    index: TicketIndex, settings: DuplicateSettings
) -> None:
    """An agent said 202 is not a duplicate of 200: neither scoring nor flagging brings it back."""
    _setup(index)
    new = index.upsert(row(202, *SECOND)).row
    suppressed = {(200, 202)}
    matches = find_duplicates(new, index, index.model, settings, suppressed_pairs=suppressed)
    assert 200 not in [m.candidate_id for m in matches]
    assert flag_decision(202, matches, settings, suppressed_pairs=suppressed) is None
    # Also when the matches were computed before the feedback arrived, in either order.
    unsuppressed = find_duplicates(new, index, index.model, settings)
    assert flag_decision(202, unsuppressed, settings, suppressed_pairs=[(202, 200)]) is None
    assert pair_key(200, 202) == pair_key(202, 200)


def test_suppression_leaves_other_candidates_flaggable() -> None:
    matches = [Match(3, 0.9, [], {}), Match(4, 0.8, [], {})]
    decision = flag_decision(9, matches, DuplicateSettings(), suppressed_pairs=[frozenset((9, 3))])
    assert decision is not None
    assert decision.actions[1] == SetField(FIELD_DUPLICATE_OF, 4)


def test_settings_from_the_duplicates_section() -> None:
    settings = DuplicateSettings.from_mapping(
        {"window_days": 7, "same_organization": True, "flag_threshold": 0.4, "native_merge": False}
    )
    assert settings == DuplicateSettings(window_days=7, same_organization=True, flag_threshold=0.4)
    assert DuplicateSettings.from_mapping({}).flag_threshold == DEFAULT_FLAG_THRESHOLD


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"flag_threshold": 1.5}, "flag_threshold"),
        ({"flag_threshold": 0}, "flag_threshold"),
        ({"flag_threshold": "high"}, "must be a number"),
        ({"window_days": -1}, "window_days"),
        ({"same_organization": "yes"}, "same_organization"),
        ({"auto_threshold": 2}, "auto_threshold"),
    ],
)
def test_bad_settings_are_refused_clearly(section: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DuplicateSettings.from_mapping(section)


def _snapshot(**kwargs: object) -> TicketSnapshot:
    base: dict[str, object] = {
        "id": 202,
        "status": "open",
        "custom_status": None,
        "updated_stamp": "x",
        "requester_id": 100,
        "tags": frozenset({texts.TAG_POSSIBLE_DUPLICATE}),
        "fields": {FIELD_DUPLICATE_OF: 200},
    }
    base.update(kwargs)
    return TicketSnapshot(**base)  # type: ignore[arg-type]


def test_already_linked_ticket_is_not_flagged_again() -> None:
    """Backfills are idempotent, and an agent's own "Duplicate of" is never overwritten."""
    matches = [Match(200, 0.9, [], {})]
    assert flag_decision(202, matches, DuplicateSettings(), current=_snapshot()) is None
    agent_linked = _snapshot(tags=frozenset(), fields={FIELD_DUPLICATE_OF: 150})
    assert flag_decision(202, matches, DuplicateSettings(), current=agent_linked) is None
    fresh = _snapshot(tags=frozenset(), fields={})
    assert flag_decision(202, matches, DuplicateSettings(), current=fresh) is not None


@pytest.mark.parametrize(
    ("tags", "duplicate_of", "expected"),
    [
        (frozenset({texts.TAG_POSSIBLE_DUPLICATE}), 200, None),  # flag left as it was
        (frozenset(), 200, frozenset({200, 202})),  # tag removed
        (frozenset({texts.TAG_POSSIBLE_DUPLICATE}), None, frozenset({200, 202})),  # field cleared
        (
            frozenset({texts.TAG_POSSIBLE_DUPLICATE}),
            150,
            frozenset({200, 202}),
        ),  # pointed elsewhere
    ],
)
def test_agent_feedback_becomes_a_suppressed_pair(
    tags: frozenset[str], duplicate_of: int | None, expected: frozenset[int] | None
) -> None:
    snapshot = _snapshot(tags=tags, fields={FIELD_DUPLICATE_OF: duplicate_of})
    assert feedback_pair(snapshot, 200) == expected


def test_a_model_other_than_the_indexs_is_refused(index: TicketIndex) -> None:
    """Term ids only mean something in the vocabulary that made them."""
    from triggers.duplicates import IdfModel

    with pytest.raises(ValueError, match="index's IdfModel"):
        find_duplicates(row(300, "a", "b"), index, IdfModel(), DuplicateSettings())


def _created(
    ticket_id: int, subject: str, description: str, hours_ago: float, **kw: object
) -> TicketSnapshot:
    return _snapshot(
        id=ticket_id,
        subject=subject,
        description=description,
        created_at=NOW - timedelta(hours=hours_ago),
        tags=frozenset(),
        fields={},
        organization_id=7,
        **kw,
    )


def test_requester_opening_the_same_issue_twice_gets_the_second_flagged(index: TicketIndex) -> None:
    settings = DuplicateSettings(flag_threshold=0.3)
    _, first = decide_new_ticket(_created(400, *FIRST, hours_ago=5), index, settings)
    assert first is None
    matches, second = decide_new_ticket(_created(401, *SECOND, hours_ago=0), index, settings)
    assert second is not None
    assert SetField(FIELD_DUPLICATE_OF, 400) in second.actions
    assert matches[0].candidate_id == 400
    # The same text from someone else is not compared with this requester's tickets.
    _, other = decide_new_ticket(
        _created(402, *SECOND, hours_ago=0, requester_id=999), index, settings
    )
    assert other is None
    # Re-running on the flagged ticket (now carrying "Duplicate of") changes nothing.
    flagged = replace(_created(401, *SECOND, hours_ago=0), fields={FIELD_DUPLICATE_OF: 400})
    assert decide_new_ticket(flagged, index, settings)[1] is None
    assert len([t for t in index if t.row.id == 401]) == 1
