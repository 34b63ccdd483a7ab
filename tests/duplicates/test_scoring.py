"""Scoring properties: text similarity ordering, signals, the idf model and matching sentences."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from tests.duplicates.conftest import NOW, row
from triggers.duplicates import (
    DuplicateSettings,
    IndexedTicket,
    TicketIndex,
    TicketRow,
    score_candidates,
)
from triggers.duplicates.scoring import (
    BM25_ALL,
    F_ALL,
    FIELDS,
    METHODS,
    IdfModel,
    TicketFacts,
    apply_signals,
    candidate_norms,
    prepare_query,
    term_counts,
    text_scores,
    text_similarities,
    text_similarity,
)

ORIGINAL = (
    "Delivery report export fails with timeout",
    "Hi team,\nExporting the delivery report for the Spring campaign fails with a timeout "
    "error after two minutes. We need it for the client meeting.\nThanks,\nAna",
)
SAME = ("RE: Delivery report export fails with timeout", ORIGINAL[1])
PARAPHRASE = (
    "Timeout when exporting delivery report",
    "Hello, the delivery report export of our Spring campaign times out, the error comes "
    "after about two minutes.",
)
UNRELATED = ("Add a new user", "Please add an account for our new planner, Maria.")


def _scores(index: TicketIndex, new: TicketRow, *others: TicketRow) -> dict[int, float]:
    entries = [index.upsert(o) for o in others]
    new_entry = index.upsert(new)
    matches = score_candidates(
        new, new_entry.features, entries, index.model, DuplicateSettings(flag_threshold=0.3)
    )
    return {m.candidate_id: m.score for m in matches}


def test_identical_beats_paraphrase_beats_unrelated(index: TicketIndex) -> None:
    new = row(50, *ORIGINAL)
    others = (row(51, *SAME), row(52, *PARAPHRASE), row(53, *UNRELATED))
    entries = [index.upsert(o) for o in others]
    new_entry = index.upsert(new)
    matches = score_candidates(
        new, new_entry.features, entries, index.model, DuplicateSettings(flag_threshold=0.3)
    )
    text = {m.candidate_id: float(m.signals["text"]) for m in matches}  # type: ignore[arg-type]
    assert text[51] > text[52] > text[53]
    # The calibrated probability keeps the order (ties near 1 are ranked by the text).
    assert [m.candidate_id for m in matches] == [51, 52, 53]
    scores = {m.candidate_id: m.score for m in matches}
    assert scores[51] > 0.95
    assert scores[53] < 0.1
    assert all(0.0 <= s <= 1.0 for s in scores.values())


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_orders_identical_paraphrase_unrelated(
    index: TicketIndex, method: str
) -> None:
    """The variants the evaluation compares all respect the basic ordering."""
    new = row(50, *ORIGINAL)
    entries = [index.upsert(r) for r in (row(51, *SAME), row(52, *PARAPHRASE), row(53, *UNRELATED))]
    matches = score_candidates(
        new,
        index.upsert(new).features,
        entries,
        index.model,
        DuplicateSettings(),
        method=METHODS[method],
        raw=True,
    )
    by_id = {m.candidate_id: m.score for m in matches}
    assert by_id[51] > by_id[52] > by_id[53]


def test_reference_to_the_candidate_number_raises_the_score(index: TicketIndex) -> None:
    plain = row(60, *PARAPHRASE)
    referring = row(61, PARAPHRASE[0], PARAPHRASE[1] + " Same as ticket #70.")
    candidate = index.upsert(row(70, *ORIGINAL, created_at=NOW - timedelta(hours=2)))
    settings = DuplicateSettings(flag_threshold=0.3)
    without = score_candidates(
        plain, index.upsert(plain).features, [candidate], index.model, settings, raw=True
    )
    with_ref = score_candidates(
        referring, index.upsert(referring).features, [candidate], index.model, settings, raw=True
    )
    assert with_ref[0].score > without[0].score
    assert with_ref[0].signals["references_candidate"] is True
    assert "references_candidate" not in without[0].signals


def test_reference_alone_does_not_reach_a_flag() -> None:
    """Mentioning another ticket with unrelated text is not evidence of a duplicate."""
    score, _ = apply_signals(0.0, TicketFacts(2), TicketFacts(1), frozenset({1}))
    assert 0.0 < score < 0.2


def test_different_product_lowers_and_same_product_raises() -> None:
    base, _ = apply_signals(0.5, TicketFacts(2), TicketFacts(1), frozenset())
    different, signals = apply_signals(
        0.5, TicketFacts(2, product="prisma"), TicketFacts(1, product="lumina"), frozenset()
    )
    same, _ = apply_signals(
        0.5, TicketFacts(2, product="prisma"), TicketFacts(1, product="prisma"), frozenset()
    )
    assert different < base < same
    assert signals["same_product"] is False


def test_time_apart_lowers_the_score_gently() -> None:
    new = TicketFacts(2, created_at=NOW)
    same_day, _ = apply_signals(
        0.5, new, TicketFacts(1, created_at=NOW - timedelta(hours=3)), frozenset()
    )
    week, _ = apply_signals(
        0.5, new, TicketFacts(1, created_at=NOW - timedelta(days=7)), frozenset()
    )
    far, signals = apply_signals(
        0.5, new, TicketFacts(1, created_at=NOW - timedelta(days=14)), frozenset()
    )
    assert same_day == 0.5
    assert same_day > week > far >= 0.5 * 0.85
    assert signals["days_apart"] == 14.0


def test_other_organization_lowers_the_score() -> None:
    same, _ = apply_signals(
        0.5, TicketFacts(2, organization_id=1), TicketFacts(1, organization_id=1), frozenset()
    )
    other, _ = apply_signals(
        0.5, TicketFacts(2, organization_id=1), TicketFacts(1, organization_id=2), frozenset()
    )
    assert other < same == 0.5


def test_idf_is_learned_incrementally_and_forgets_removed_tickets() -> None:
    model = IdfModel()
    first = model.learn("Invoice wrong", "The invoice total is wrong")
    model.learn("Invoice missing", "No invoice this month")
    invoice = model.vocabulary["invoice"]
    wrong = model.vocabulary["wrong"]
    assert model.n_docs == 2
    assert model.df[invoice] == 2 and model.df[wrong] == 1
    assert model.idf(wrong) > model.idf(invoice) >= 1.0
    model.remove(first)
    assert model.n_docs == 1 and model.df[wrong] == 0


def test_idf_follows_a_growing_corpus() -> None:
    """Every new ticket changes idf exactly: rarer terms weigh more as N grows."""
    model = IdfModel()
    model.learn("Invoice wrong", "")
    before = model.idf(model.vocabulary["invoice"])
    model.learn("Topic", "unrelated words")
    after = model.idf(model.vocabulary["invoice"])
    assert after == pytest.approx(math.log(3 / 2) + 1.0)
    assert after > before
    assert model.idf(-1) == pytest.approx(math.log(3) + 1.0)  # a term no ticket has


def test_unknown_query_terms_still_count_in_the_query_norm(index: TicketIndex) -> None:
    """A new ticket full of words no ticket has is not similar to a ticket sharing one word."""
    candidate = index.upsert(row(80, "Invoice", "invoice"))
    new = row(81, "Invoice zqxv blorf wibble", "glarp frumious invoice snark")
    features = index.model.features(term_counts(new.subject, new.description), learn=False)
    full = index.model.features(term_counts("Invoice", "invoice"), learn=False)
    settings = DuplicateSettings()
    partial = score_candidates(new, features, [candidate], index.model, settings, raw=True)[0].score
    exact = score_candidates(
        row(82, "Invoice", "invoice"), full, [candidate], index.model, settings, raw=True
    )
    assert partial < exact[0].score


def test_bm25_of_a_ticket_with_itself_is_one(index: TicketIndex) -> None:
    entry = index.upsert(row(90, *ORIGINAL))
    other = index.upsert(row(91, *ORIGINAL))
    match = score_candidates(
        row(90, *ORIGINAL),
        entry.features,
        [other],
        index.model,
        DuplicateSettings(),
        method=BM25_ALL,
    )
    assert match[0].score == pytest.approx(1.0)


def test_matching_sentences_pair_what_both_tickets_say(index: TicketIndex) -> None:
    old = index.upsert(row(95, *ORIGINAL))
    new = row(96, *PARAPHRASE)
    [match] = score_candidates(
        new, index.upsert(new).features, [old], index.model, DuplicateSettings(flag_threshold=0.05)
    )
    assert match.matching_sentences
    new_sentence, old_sentence = match.matching_sentences[0]
    assert "delivery report" in new_sentence.lower() and "delivery report" in old_sentence.lower()
    assert "Thanks" not in old_sentence and "Hi team" not in old_sentence


def test_no_sentences_below_the_flag_threshold(index: TicketIndex) -> None:
    """Sentences are only computed for matches an agent will see."""
    old = index.upsert(row(97, *UNRELATED))
    new = row(98, *ORIGINAL)
    [match] = score_candidates(
        new, index.upsert(new).features, [old], index.model, DuplicateSettings()
    )
    assert match.matching_sentences == []


def test_cached_norms_match_fresh_ones_and_refresh_as_the_corpus_grows() -> None:
    """Candidate norms are reused while N is within 1%, and recomputed once it moves further."""
    model = IdfModel()
    features = model.learn("Invoice total wrong", "The invoice total is wrong for March")
    first = candidate_norms(features, model)
    assert candidate_norms(features, model) == first
    assert first[F_ALL] > 0.0
    for i in range(5):
        model.learn(f"Invoice {i}", "invoice")  # "invoice" gets common: its idf falls
    fresh = model.features(
        term_counts("Invoice total wrong", "The invoice total is wrong for March"), learn=False
    )
    refreshed = candidate_norms(features, model)
    assert refreshed == candidate_norms(fresh, model)
    assert refreshed[F_ALL] != first[F_ALL]


def test_cosine_with_cached_norms_equals_the_exact_cosine(index: TicketIndex) -> None:
    """Scores do not depend on whether a candidate's norms were cached before."""
    entry = index.upsert(row(110, *PARAPHRASE))
    new = row(111, *ORIGINAL)
    features = index.model.features(term_counts(new.subject, new.description), learn=False)
    warm = score_candidates(new, features, [entry], index.model, DuplicateSettings(), raw=True)[
        0
    ].score
    cold_features = index.model.features(term_counts(*PARAPHRASE), learn=False)
    cold_entry = IndexedTicket(entry.row, cold_features)
    cold = score_candidates(
        new, features, [cold_entry], index.model, DuplicateSettings(), raw=True
    )[0].score
    assert warm == pytest.approx(cold)
    assert 0.1 < warm < 1.0


def test_background_scores_equal_the_full_text_similarity(index: TicketIndex) -> None:
    """`text_scores` (the background's fast path) gives exactly `text_similarity`'s score."""
    entries = [index.upsert(row(120 + i, *t)) for i, t in enumerate((SAME, PARAPHRASE, UNRELATED))]
    query = prepare_query(index.model.features(term_counts(*ORIGINAL), learn=False), index.model)
    others = [t.features for t in index]
    assert len(others) > len(entries)
    fast = text_scores(query, others, index.model)
    assert fast == [text_similarity(query, f, index.model)[0] for f in others]
    assert max(fast) > 0.5 and min(fast) < 0.1


def _reference_cosine(query_feats: object, candidate: object, model: IdfModel, i: int) -> float:
    """Field i's tf-idf cosine from the definition: dicts, no caches, no vectorisation."""

    def vector(feats: object) -> list[tuple[int, float]]:  # unknown terms (-1) are distinct
        bag = feats.bags[FIELDS[i]]  # type: ignore[attr-defined]
        return [
            (t, (1.0 + math.log(tf)) * model.idf(t)) for t, tf in zip(bag.ids, bag.tfs, strict=True)
        ]

    q, c = vector(query_feats), dict(vector(candidate))
    dot = sum(w * c[t] for t, w in q if t >= 0 and t in c)
    norm = math.sqrt(sum(w * w for _, w in q)) * math.sqrt(sum(w * w for w in c.values()))
    return min(1.0, dot / norm) if norm else 0.0


def test_vectorised_similarities_equal_the_definition(index: TicketIndex) -> None:
    """The batched cosines (numpy, all candidates at once) are the per-field tf-idf cosines
    of the definition, whatever the batch, including query terms the model does not know."""
    for i, t in enumerate((SAME, PARAPHRASE, UNRELATED, ("", ""), ("Timeout", "timeout"))):
        index.upsert(row(140 + i, *t))
    new = (ORIGINAL[0] + " zzyzx-unknown", ORIGINAL[1] + " qwxv-never-seen")
    query_feats = index.model.features(term_counts(*new), learn=False)
    assert -1 in query_feats.ids
    query = prepare_query(query_feats, index.model)
    others = [t.features for t in index]
    batch = text_similarities(query, others, index.model)
    weights = dict(METHODS["tfidf_fields"].weights)
    for features, (score, parts) in zip(others, batch, strict=True):
        expected = {name: _reference_cosine(query_feats, features, index.model, i)
                    for i, name in enumerate(FIELDS)}  # fmt: skip
        for name, value in parts.items():
            assert value == pytest.approx(expected[name], abs=6e-5)  # parts are rounded to 4
        total = sum(weights[n] * expected[n] for n in weights) / sum(weights.values())
        assert score == pytest.approx(total, rel=1e-9, abs=1e-12)
    # One at a time, or in another batch order: the same values, bit for bit.
    assert [text_similarity(query, f, index.model) for f in others] == batch
    assert text_similarities(query, others[::-1], index.model) == batch[::-1]
    assert text_similarities(query, [], index.model) == []


def test_packed_features_keep_each_field_apart() -> None:
    """One id array for all fields: each field's run is its own sorted bag, counted per field."""
    model = IdfModel()
    features = model.learn(*ORIGINAL)
    bags = features.bags
    assert set(bags) == set(FIELDS)
    assert sum(len(b) for b in bags.values()) == len(features.ids)
    for bag in bags.values():
        assert list(bag.ids) == sorted(bag.ids)
    assert features.lengths() == {name: sum(b.tfs) for name, b in bags.items()}
    assert model.total_length == features.lengths()


def test_bulk_load_leaves_no_stale_norms() -> None:
    """After `upsert_many` the first tickets' norms are those of the whole corpus (no first
    lookup pays a norm pass)."""
    index = TicketIndex()
    index.upsert_many(
        row(200 + i, f"Report {i} export fails", f"Export number {i} of the report times out.")
        for i in range(300)
    )
    first = index.get(200)
    assert first is not None
    assert first.features.norm_cache[0] == index.model.n_docs
