"""The approval classifier on the labelled corpus (fixtures/approval_corpus.jsonl): never a
false approval, and at least 90 % of the clear approvals recognised (issue 13's target).

bench/approval_eval.py reports the whole confusion matrix against the old keyword rule."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from triggers.approval import APPROVE, DECLINE, UNCLEAR, classify

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "approval_corpus.jsonl"
# Written after the classifier was frozen; never used to change it (bench/results/).
HOLDOUT = FIXTURES / "approval_holdout.jsonl"


def _corpus(path: Path = CORPUS) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_the_corpus_is_what_its_builder_writes() -> None:
    """The committed file and its builder agree (edit the builder, then run it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build", FIXTURES / "approval_corpus_build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build() == _corpus()


def test_the_corpus_is_large_varied_and_labelled() -> None:
    rows = _corpus()
    assert len(rows) >= 300
    assert len({r["text"] for r in rows}) == len(rows)  # no reply twice
    assert {r["label"] for r in rows} == {APPROVE, DECLINE, UNCLEAR}
    forms = Counter(r["form"].split(":")[0] for r in rows)
    assert {"plain", "quoted", "forwarded", "html", "disclaimer", "footer", "signature"} <= set(
        forms
    )
    languages = Counter(r["lang"] for r in rows)
    assert languages["en"] > 100 and languages["fr"] > 50
    assert {"de", "es", "pt", "it", "nl", "da", "no", "sv", "fi"} <= set(languages)


@pytest.mark.parametrize("path", [CORPUS, HOLDOUT], ids=["corpus", "holdout"])
def test_no_false_approval_and_nine_in_ten_approvals_recognised(path: Path) -> None:
    rows = _corpus(path)
    answers = [(r, classify(r["text"])) for r in rows]
    false_approvals = [
        (r["id"], r["text"]) for r, v in answers if v.answer == APPROVE and r["label"] != APPROVE
    ]
    assert false_approvals == []
    approvals = [v.answer for r, v in answers if r["label"] == APPROVE]
    recall = approvals.count(APPROVE) / len(approvals)
    assert recall >= 0.90, recall


@pytest.mark.parametrize("label", [DECLINE, UNCLEAR])
def test_what_is_not_approval_is_left_to_an_agent_with_a_sentence_or_none(label: str) -> None:
    """A reply that is not approval is never recorded as one, and the note's quote is one of
    the reply's own sentences."""
    for row in _corpus():
        if row["label"] != label:
            continue
        verdict = classify(row["text"])
        assert verdict.answer != APPROVE
        if verdict.sentence is not None:
            assert verdict.sentence in row["text"] or row["form"] == "html"
