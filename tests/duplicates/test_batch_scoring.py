"""The batched scoring path (issue 16: p99 at 100,000 tickets) against its one-candidate
definitions, bit for bit: rounding, signals, calibration and the whole `score_candidates`."""

from __future__ import annotations

import math
import struct
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.duplicates.conftest import NOW, row
from triggers.duplicates import DuplicateSettings, IndexedTicket, Match, TicketIndex, TicketRow
from triggers.duplicates import score_candidates as batched_score_candidates
from triggers.duplicates.calibration import BackgroundStats, shipped
from triggers.duplicates.scoring import (
    FIELDS,
    METHODS,
    TextMethod,
    TicketFacts,
    apply_signals,
    apply_signals_many,
    prepare_query,
    round_many,
    term_counts,
    text_similarity,
)


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)  # tells -0.0 from 0.0 and one NaN from another


# Values at and next to a rounding half (k + 0.5) / 10**n, where a float product can mislead.
_halves = st.builds(
    lambda k, n, ulps: math.ldexp(1.0, -60) * ulps + (k + 0.5) / 10**n,
    st.integers(-(10**6), 10**6),
    st.integers(0, 6),
    st.integers(-4, 4),
)
_any = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-20.0, 20.0) | _halves


@settings(max_examples=200, deadline=None)
@given(st.lists(_any, max_size=40), st.integers(0, 8))
def test_round_many_is_python_round(values: list[float], ndigits: int) -> None:
    assert [_bits(x) for x in round_many(values, ndigits)] == [
        _bits(round(x, ndigits)) for x in values
    ]


def test_round_many_on_exact_ties_and_near_ties() -> None:
    values = [0.5, 1.5, 2.5, -0.5, 0.125, 0.00005, 0.00015, 0.12345, 0.99995, 1e-320, -0.0, 2.0**40]
    for ndigits in (0, 2, 3, 4):
        nearby = [math.nextafter(v, d) for v in values for d in (-math.inf, math.inf)]
        for x in values + nearby:
            assert _bits(round_many([x], ndigits)[0]) == _bits(round(x, ndigits)), (x, ndigits)


_products = st.sampled_from([None, "", "prisma", "lumina"])
_organizations = st.sampled_from([None, 1, 2])
_subjects = st.sampled_from(["Chat with Rita", "Export fails", "Conversation with +1 555 0100", ""])
_offsets = st.one_of(
    st.none(), st.floats(0, 400), st.floats(0, 20 * 86400), st.floats(-86400, 86400)
)


@st.composite
def _candidate(draw: st.DrawFn) -> tuple[TicketFacts, str]:
    offset = draw(_offsets)
    subject = draw(_subjects)
    return (
        TicketFacts(
            draw(st.integers(1, 8)),
            draw(_products),
            draw(_organizations),
            None if offset is None else NOW - timedelta(seconds=offset),
            channel=bool(subject) and subject != "Export fails",
        ),
        subject,
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 1.0), _candidate()), min_size=1, max_size=12),
    st.tuples(_products, _organizations, st.booleans(), st.booleans()),
    st.frozensets(st.integers(1, 8), max_size=3),
    st.sampled_from([14.0, 1.0, 0.5, 30.0]),
)
def test_signals_of_many_equal_the_one_candidate_definition(
    items: list[tuple[float, tuple[TicketFacts, str]]],
    new_ticket: tuple[str | None, int | None, bool, bool],
    references: frozenset[int],
    window: float,
) -> None:
    product, organization, channel, timed = new_ticket
    new = TicketFacts(99, product, organization, NOW if timed else None, channel)
    texts = [t for t, _ in items]
    facts = [f for _, (f, _) in items]
    scores, signals = apply_signals_many(
        texts,
        new,
        ids=[f.id for f in facts],
        products=[f.product for f in facts],
        organization_ids=[f.organization_id for f in facts],
        created_at=[f.created_at for f in facts],
        subjects=[s for _, (_, s) in items],
        new_references=references,
        window_days=window,
    )
    expected = [
        apply_signals(t, new, f, references, window) for t, f in zip(texts, facts, strict=True)
    ]
    assert [_bits(s) for s in scores.tolist()] == [_bits(s) for s, _ in expected]
    # Equal signals, with the same keys in the same order (they are shown and audited).
    assert [list(s.items()) for s in signals] == [list(s.items()) for _, s in expected]


_parts = st.floats(0.0, 1.0).map(lambda x: round(x, 4))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.0, 1.0), _parts, _parts, _parts), min_size=1, max_size=20),
    st.floats(0.0, 0.5),
    st.floats(0.0, 0.3),
    st.floats(0.0, 1.0),
    st.integers(0, 64),
)
def test_calibrated_probabilities_of_many_equal_the_one_candidate_definition(
    rows: list[tuple[float, float, float, float]],
    mean: float,
    spread: float,
    maximum: float,
    size: int,
) -> None:
    """Generic over the calibration's features: whatever `features` computes from the text
    and the parts must give the same bits column-wise (it has to stay elementwise)."""
    import numpy as np

    calibration = shipped()
    background = calibration.background(BackgroundStats(mean, spread, maximum, size))
    text = np.array([r[0] for r in rows])
    columns = {name: np.array([r[i + 1] for r in rows]) for i, name in enumerate(FIELDS)}
    many = calibration.probabilities(text, columns, background)
    one = [
        calibration.probability(r[0], dict(zip(FIELDS, r[1:], strict=True)), background)
        for r in rows
    ]
    assert [_bits(p) for p in many] == [_bits(p) for p in one]


def _reference_score_candidates(
    new: TicketRow,
    *,
    candidates: list[IndexedTicket],
    background: list[IndexedTicket],
    index: TicketIndex,
    settings_: DuplicateSettings,
    method: TextMethod,
    raw: bool,
) -> list[tuple[int, float, dict[str, object]]]:
    """`score_candidates` composed from the one-candidate definitions (no batching)."""
    model = index.model
    new_features = model.features(term_counts(new.subject, new.description), learn=False)
    query = prepare_query(new_features, model)
    calibration = None if raw else shipped()
    bg = None
    if calibration is not None:
        scores = [text_similarity(query, b.features, model, method)[0] for b in background]
        bg = calibration.background(BackgroundStats.of(scores))

    def facts(r: TicketRow) -> TicketFacts:
        from triggers.duplicates.normalise import is_channel_subject

        return TicketFacts(
            r.id, r.product, r.organization_id, r.created_at, is_channel_subject(r.subject)
        )

    scored = []
    for candidate in candidates:
        text, parts = text_similarity(query, candidate.features, model, method)
        value = (
            text
            if calibration is None or bg is None
            else (calibration.probability(text, parts, bg))
        )
        score, signals = apply_signals(
            value, facts(new), facts(candidate.row), new_features.references, settings_.window_days
        )
        signals["text"] = round(text, 4)
        signals["fields"] = parts
        if bg is not None:
            signals["background"] = (bg.mean, bg.spread, bg.maximum, bg.size)
        scored.append((score, candidate, signals))
    scored.sort(
        key=lambda i: (-round(i[0], 4), -float(i[2]["text"]), i[1].row.created_at, i[1].row.id)  # type: ignore[arg-type]
    )
    return [(c.row.id, round(s, 4), sig) for s, c, sig in scored]


def _dump(matches: list[Match]) -> list[tuple[int, bytes, list[tuple[str, object]]]]:
    return [(m.candidate_id, _bits(m.score), list(m.signals.items())) for m in matches]


def test_score_candidates_equals_the_one_candidate_composition() -> None:
    """Calibrated and raw, every text method, products, organisations, references, times and
    a chat conversation: the batched path gives the same verdicts, bit for bit."""
    index = TicketIndex()
    subjects = [  # the first is minutes before the new ticket: a chat of the same conversation
        ("Chat with Rita", "(10:00) Rita: the invoice total is wrong\n(10:01) Rita: since May"),
        ("Delivery report export fails with timeout", "Exporting the delivery report fails."),
        ("Timeout when exporting delivery report", "The export times out after two minutes."),
        ("Add a new user", "Please add an account for our new planner, Maria."),
        ("Invoice total wrong", "See ticket #905, the invoice total does not match."),
        ("Export fails", "Export fails with a timeout again. Same as #903."),
    ]
    candidates = []
    for i in range(40):
        subject, description = subjects[i % len(subjects)]
        entry = index.upsert(
            row(
                900 + i,
                subject,
                f"{description} Campaign {i % 7}.",
                requester_id=100 if i % 3 else 101,
                organization_id=[7, 8, None][i % 3],
                product=[None, "prisma", "lumina", ""][i % 4],
                created_at=NOW - timedelta(minutes=3 + 97 * i),
            )
        )
        candidates.append(entry)
    background = [
        index.upsert(row(2000 + i, f"Other issue {i}", f"Something else entirely, case {i}."))
        for i in range(20)
    ]
    for new_subject, new_text in [subjects[0], subjects[1], subjects[5]]:
        new = row(5000, new_subject, new_text + " Also #910.", product="prisma", created_at=NOW)
        new_features = index.model.features(term_counts(new.subject, new.description), learn=False)
        for method in METHODS.values():
            for raw in (False, True):
                settings_ = DuplicateSettings(flag_threshold=0.2)
                got = batched_score_candidates(
                    new, new_features, candidates, index.model, settings_, method=method,
                    background=[b.features for b in background], raw=raw, sentences_for=0,
                )  # fmt: skip
                expected = _reference_score_candidates(
                    new, candidates=candidates, background=background, index=index,
                    settings_=settings_, method=method, raw=raw,
                )  # fmt: skip
                assert _dump(got) == [(i, _bits(s), list(sig.items())) for i, s, sig in expected]
