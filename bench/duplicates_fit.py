"""Fit the duplicate score's calibration (a small logistic model) and validate it
leave-one-project-out.

    python bench/duplicates_fit.py [--data DIR] [--write]

Reads the same labelled data and builds the same histories as bench/duplicates_eval.py. Every
(new ticket, candidate) pair of every history is one example (label: the candidate is the
original). Features are `triggers.duplicates.calibration.features` of the production scorer's
text similarities and the new ticket's background (64 unrelated reports of the same project).

The flag threshold is chosen by a rule that never looks at the project it is reported on:
for a set of training projects, an inner leave-one-project-out gives each of them held-out
probabilities, and the threshold is the lowest grid value from which every inner held-out
project keeps precision >= TARGET_PRECISION. With --write, the model fitted on all projects
and the threshold that rule picks over all projects are written to
triggers/duplicates/calibration.json (the shipped calibration).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(REPO / "bench") not in sys.path:
    sys.path.insert(0, str(REPO / "bench"))

import duplicates_eval as ev  # noqa: E402

from triggers.duplicates.calibration import (  # noqa: E402
    CALIBRATION_FILE,
    FEATURE_NAMES,
    BackgroundStats,
    Calibration,
    features,
)
from triggers.duplicates.scoring import DEFAULT_METHOD  # noqa: E402

TARGET_PRECISION = 0.95
L2 = 1e-3  # ridge per example: keeps coefficients finite when a small project separates
PRIOR_WEIGHT = 16.0  # pseudo-tickets of prior background while an account is young
THRESHOLD_GRID = [round(i / 100, 2) for i in range(99, 4, -1)]


def project_of(source_name: str) -> str:
    """Files of one project (Eclipse's similar and dissimilar pairs) are one project."""
    return source_name.lower().split("_")[0].split("-")[0]


@dataclass(frozen=True)
class Pair:
    history: ev.History
    candidate: int  # the scorer's ticket number
    is_original: bool
    text: float
    parts: dict[str, float]
    background: BackgroundStats  # raw (not shrunk)


def collect_pairs(
    sources: Sequence[ev.Source], histories: Sequence[ev.History], seed: int = 7
) -> list[list[Pair]]:
    """Per history, its candidates' raw similarities and the new ticket's background."""
    neutral = Calibration(0.0, (0.0,) * len(FEATURE_NAMES), BackgroundStats(0, 0, 0, 0), 0.0)
    collected: list[tuple[ev.History, list[ev.Match]]] = []
    ev.run_cxlayer(
        sources, histories, DEFAULT_METHOD, calibration=neutral, collect=collected, seed=seed
    )
    numbers = {(s.name, rid): i + 1 for s in sources for i, rid in enumerate(sorted(s.reports))}
    out: list[list[Pair]] = []
    for history, matches in collected:
        original = numbers.get((history.source, history.original)) if history.original else None
        pairs = []
        for m in matches:
            mean, spread, maximum, size = m.signals["background"]  # type: ignore[misc]
            pairs.append(
                Pair(
                    history,
                    m.candidate_id,
                    m.candidate_id == original,
                    float(m.signals["text"]),  # type: ignore[arg-type]
                    dict(m.signals["fields"]),  # type: ignore[call-overload]
                    BackgroundStats(mean, spread, maximum, size),
                )
            )
        out.append(pairs)
    return out


def prior_of(groups: Sequence[Sequence[Pair]]) -> BackgroundStats:
    backgrounds = [g[0].background for g in groups if g]
    return BackgroundStats(
        statistics.median(b.mean for b in backgrounds),
        statistics.median(b.spread for b in backgrounds),
        statistics.median(b.maximum for b in backgrounds),
        0,
    )


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    n = len(b)
    m = [[*row, v] for row, v in zip(a, b, strict=True)]
    for i in range(n):
        pivot = max(range(i, n), key=lambda r: abs(m[r][i]))
        m[i], m[pivot] = m[pivot], m[i]
        for r in range(n):
            if r != i and m[i][i]:
                f = m[r][i] / m[i][i]
                for k in range(i, n + 1):
                    m[r][k] -= f * m[i][k]
    return [m[i][n] / m[i][i] for i in range(n)]


def fit(groups: Sequence[Sequence[Pair]], iterations: int = 25) -> Calibration:
    """Ridge logistic regression by Newton's method (a handful of features: no library)."""
    prior = prior_of(groups)
    shrink = Calibration(0.0, (0.0,) * len(FEATURE_NAMES), prior, PRIOR_WEIGHT)
    xs: list[list[float]] = []
    ys: list[float] = []
    for group in groups:
        for p in group:
            xs.append([1.0, *features(p.text, p.parts, shrink.background(p.background))])
            ys.append(1.0 if p.is_original else 0.0)
    d = len(xs[0])
    w = [0.0] * d
    for _ in range(iterations):
        grad = [0.0] * d
        hess = [[0.0] * d for _ in range(d)]
        for x, y in zip(xs, ys, strict=True):
            z = sum(a * b for a, b in zip(w, x, strict=True))
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            s = p * (1 - p)
            for j in range(d):
                grad[j] += (p - y) * x[j]
                for k in range(j, d):
                    hess[j][k] += s * x[j] * x[k]
        for j in range(d):
            for k in range(j):
                hess[j][k] = hess[k][j]
        for j in range(1, d):
            grad[j] += L2 * len(xs) * w[j]
            hess[j][j] += L2 * len(xs)
        step = _solve(hess, grad)
        w = [a - b for a, b in zip(w, step, strict=True)]
        if max(abs(s) for s in step) < 1e-9:
            break
    return Calibration(w[0], tuple(w[1:]), prior, PRIOR_WEIGHT)


def history_outcomes(groups: Sequence[Sequence[Pair]], cal: Calibration) -> list[ev.Outcome]:
    """The eval's outcomes (best candidate per history) under a calibration, without rescoring."""
    out = []
    for group in groups:
        history = group[0].history if group else None
        if history is None:
            continue
        scored = sorted(
            ((cal.probability(p.text, p.parts, cal.background(p.background)), p) for p in group),
            key=lambda item: -item[0],
        )
        best_score, best = scored[0]
        rank = next((i + 1 for i, (_, p) in enumerate(scored) if p.is_original), None)
        out.append(
            ev.Outcome(
                history,
                round(best_score, 4),
                best.is_original,
                rank if history.original else None,
                str(best.candidate),
            )
        )
    return out


def by_project(groups: Sequence[Sequence[Pair]]) -> dict[str, list[Sequence[Pair]]]:
    projects: dict[str, list[Sequence[Pair]]] = {}
    for g in groups:
        if g:
            projects.setdefault(project_of(g[0].history.source), []).append(g)
    return projects


def choose_threshold(projects: dict[str, list[Sequence[Pair]]], *, pooled: bool = False) -> float:
    """Inner leave-one-project-out over `projects`: the lowest threshold from which every
    held-out project keeps precision >= TARGET_PRECISION (1.0 if there is one project).
    With `pooled`, the inner held-out outcomes of all projects count as one set instead (a
    small project's few flags then weigh what they are)."""
    if len(projects) < 2:
        return THRESHOLD_GRID[0]
    held: list[list[ev.Outcome]] = []
    for name, groups in projects.items():
        train = [g for other, gs in projects.items() if other != name for g in gs]
        held.append(history_outcomes(groups, fit(train)))
    if pooled:
        held = [[o for outcomes in held for o in outcomes]]
    chosen = THRESHOLD_GRID[0]
    for t in THRESHOLD_GRID:
        ok = all(
            ev.metrics(o, t)["precision"] >= TARGET_PRECISION or not ev.metrics(o, t)["flags"]
            for o in held
        )
        if not ok:
            break
        chosen = t
    return chosen


def leave_one_project_out(
    groups: Sequence[Sequence[Pair]], shipped_threshold: float
) -> dict[str, dict[str, object]]:
    """Per left-out project: the model and (nested) threshold from the other projects only,
    and the result at the shipped threshold too."""
    projects = by_project(groups)
    result: dict[str, dict[str, object]] = {}
    if len(projects) < 2:  # nothing to fit on but the project itself
        return result
    for name, held in projects.items():
        others = {k: v for k, v in projects.items() if k != name}
        train = [g for gs in others.values() for g in gs]
        cal = fit(train)
        nested = choose_threshold(others)
        pooled = choose_threshold(others, pooled=True)
        outcomes = history_outcomes(held, cal)
        result[name] = {
            "trained_on": sorted(others),
            "pairs": sum(1 for g in held if g and g[0].history.original),
            "at_shipped_threshold": {
                **ev.summary(outcomes, shipped_threshold),
                "precision_at_10_percent_duplicates": precision_at_share(
                    outcomes, shipped_threshold, 0.10
                ),
            },
            "nested_threshold": nested,
            "at_nested_threshold": {
                **ev.summary(outcomes, nested),
                "precision_at_10_percent_duplicates": precision_at_share(outcomes, nested, 0.10),
            },
            # Informational: the same nesting, inner held-out outcomes pooled (issue 16).
            "pooled_nested_threshold": pooled,
            "at_pooled_nested_threshold": {
                **ev.summary(outcomes, pooled),
                "precision_at_10_percent_duplicates": precision_at_share(outcomes, pooled, 0.10),
            },
        }
    return result


def precision_at_share(outcomes: Sequence[ev.Outcome], threshold: float, share: float) -> float:
    """Precision re-weighted to `share` of new tickets having a duplicate (histories are 1:1):
    flags on histories without an original count (1 - share) / share times."""
    flagged = [o for o in outcomes if o.score >= threshold and o.score > 0]
    right = sum(1 for o in flagged if o.best_is_original)
    wrong_pos = sum(1 for o in flagged if o.history.original and not o.best_is_original)
    wrong_neg = sum(1 for o in flagged if not o.history.original)
    positives = sum(1 for o in outcomes if o.history.original)
    negatives = len(outcomes) - positives
    if not flagged or not positives or not negatives:
        return 1.0
    weight = (1 - share) / share * positives / negatives
    return round(right / (right + wrong_pos + weight * wrong_neg), 4)


def calibration_data(
    cal: Calibration, threshold: float, projects: Sequence[str]
) -> dict[str, object]:
    return {
        "about": "Written by bench/duplicates_fit.py --write; see its docstring.",
        "fitted_on_projects": sorted(projects),
        "intercept": round(cal.intercept, 6),
        "coefficients": {
            n: round(c, 6) for n, c in zip(FEATURE_NAMES, cal.coefficients, strict=True)
        },
        "background_prior": {
            "mean": round(cal.prior.mean, 6),
            "spread": round(cal.prior.spread, 6),
            "maximum": round(cal.prior.maximum, 6),
        },
        "prior_weight": cal.prior_weight,
        "flag_threshold": threshold,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ev.DEFAULT_DATA)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="write calibration.json")
    args = parser.parse_args(argv)
    sources = ev.load_folder(args.data.resolve())
    histories = ev.build_histories(sources, args.k, args.seed)
    groups = collect_pairs(sources, histories, args.seed)
    projects = by_project(groups)
    threshold = choose_threshold(projects)
    cal = fit([g for gs in projects.values() for g in gs])
    data = calibration_data(cal, threshold, list(projects))
    print(json.dumps(data, indent=2))
    for name, r in leave_one_project_out(groups, threshold).items():
        print(name, json.dumps(r))
    if args.write:
        CALIBRATION_FILE.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
