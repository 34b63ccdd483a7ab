"""Measure the data maintenance approval classifier on the labelled replies: confusion matrix,
false approvals, approvals recognised; the old keyword rule measured in the same run.

    .venv/bin/python bench/approval_eval.py [--json bench/results/approval_eval.json]

Reads tests/triggers/fixtures/approval_corpus.jsonl (the corpus the classifier was developed
against) and approval_holdout.jsonl (replies written after the classifier was frozen, never
used to change it). The target (issue 13): zero false approvals, >= 90 % of approvals.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from triggers.approval import classify  # noqa: E402

FIXTURES = REPO / "tests" / "triggers" / "fixtures"
SETS = {
    "corpus": FIXTURES / "approval_corpus.jsonl",
    "holdout": FIXTURES / "approval_holdout.jsonl",
}
LABELS = ("approve", "decline", "unclear")

# --- BASELINE: the keyword rule this issue replaces --------------------------------------
# A verbatim copy of triggers/rules/data_maintenance_approval.py's classify_reply before
# issue 13, kept here only as the baseline (it is no longer used by the service).
_QUOTE_START = re.compile(
    r"^\s*(>|on\b.*\bwrote:\s*$|-+\s*original message\s*-+|from:\s)", re.IGNORECASE | re.MULTILINE
)
_HARMLESS_NEGATIONS = re.compile(r"\b(no problem|no worries|not a problem|no issues?)\b")
_DECLINE = re.compile(
    r"\b(no|nope|not|don'?t|do not|doesn'?t|can'?t|cannot|won'?t|never|decline[ds]?|"
    r"reject(?:ed)?|refuse[ds]?|deny|denied|disapprove[ds]?|cancel(?:led)?|stop|wait|"
    r"hold off|unapproved)\b"
)
_APPROVE = re.compile(
    r"\b(approve[ds]?|approval|yes|yep|yeah|go ahead|proceed|confirm(?:ed)?|agree[ds]?|"
    r"ok|okay|please do|sounds good)\b"
)


def baseline_classify(body: str) -> str:
    """The old rule: approval wording and no refusal wording before the first quote marker."""
    match = _QUOTE_START.search(body)
    text = (body[: match.start()] if match else body).lower().replace("’", "'")
    text = _HARMLESS_NEGATIONS.sub(" ", text)
    if _DECLINE.search(text):
        return "decline"
    if _APPROVE.search(text):
        return "approve"
    return "unclear"


# --- END OF BASELINE ---------------------------------------------------------------------


def load(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def evaluate(rows: list[dict[str, str]], decide: Callable[[str], str]) -> dict[str, object]:
    matrix = {label: dict.fromkeys(LABELS, 0) for label in LABELS}  # matrix[truth][predicted]
    false_approvals: list[dict[str, str]] = []
    missed: list[dict[str, str]] = []
    by_form: dict[str, Counter[str]] = {}
    for row in rows:
        predicted = decide(row["text"])
        matrix[row["label"]][predicted] += 1
        form = row["form"].split(":")[0]
        by_form.setdefault(form, Counter())["right" if predicted == row["label"] else "wrong"] += 1
        if predicted == "approve" and row["label"] != "approve":
            false_approvals.append({"id": row["id"], "label": row["label"], "text": row["text"]})
        if row["label"] == "approve" and predicted != "approve":
            missed.append({"id": row["id"], "predicted": predicted, "text": row["text"]})
    approvals = sum(matrix["approve"].values())
    predicted_approvals = sum(matrix[t]["approve"] for t in LABELS)
    right = sum(matrix[t][t] for t in LABELS)
    return {
        "replies": len(rows),
        "confusion_matrix_truth_by_predicted": matrix,
        "false_approvals": len(false_approvals),
        "approval_recall": round(matrix["approve"]["approve"] / approvals, 3)
        if approvals
        else None,
        "approval_precision": (
            round(matrix["approve"]["approve"] / predicted_approvals, 3)
            if predicted_approvals
            else None
        ),
        "accuracy": round(right / len(rows), 3) if rows else None,
        "accuracy_by_form": {
            form: round(c["right"] / (c["right"] + c["wrong"]), 3)
            for form, c in sorted(by_form.items())
        },
        "false_approval_examples": false_approvals[:15],
        "missed_approvals": missed,
    }


def _print(name: str, result: dict[str, object]) -> None:
    matrix = result["confusion_matrix_truth_by_predicted"]
    assert isinstance(matrix, dict)
    print(f"  {name}: {result['replies']} replies")
    print("    truth \\ predicted  " + "  ".join(f"{p:>8}" for p in LABELS))
    for truth in LABELS:
        print(f"    {truth:<18} " + "  ".join(f"{matrix[truth][p]:>8}" for p in LABELS))
    print(
        f"    false approvals {result['false_approvals']}, approvals recognised "
        f"{result['approval_recall']}, accuracy {result['accuracy']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    results: dict[str, object] = {
        "command": " ".join(
            [".venv/bin/python", "bench/approval_eval.py"]
            + [shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)]
        ),
        "target": "zero false approvals, approval recall >= 0.90",
    }
    for set_name, path in SETS.items():
        if not path.exists():
            continue
        rows = load(path)
        print(f"{set_name} ({path.relative_to(REPO)}):")
        new = evaluate(rows, lambda body: classify(body).answer)
        old = evaluate(rows, baseline_classify)
        _print("classifier (triggers/approval.py)", new)
        _print("baseline (old keyword rule)", old)
        results[set_name] = {"classifier": new, "baseline_keyword_rule": old}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
