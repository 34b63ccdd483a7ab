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
import random
import shlex
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


def example_weights(groups: Sequence[Sequence[Pair]], weighting: str) -> list[float]:
    """One weight per (history, candidate) example, in `groups` order. "example": all 1 (the
    shipped fit); "project": each project's examples weigh N / (P * N_project), so every
    project carries the same total weight (issue 16c, tried: not shipped)."""
    sizes: dict[str, int] = {}
    for g in groups:
        for p in g:
            name = project_of(p.history.source)
            sizes[name] = sizes.get(name, 0) + 1
    total = sum(sizes.values())
    out: list[float] = []
    for g in groups:
        for p in g:
            if weighting == "example":
                out.append(1.0)
            elif weighting == "project":
                out.append(total / (len(sizes) * sizes[project_of(p.history.source)]))
            else:
                raise ValueError(f"unknown weighting {weighting!r}")
    return out


def fit(
    groups: Sequence[Sequence[Pair]],
    iterations: int = 25,
    *,
    weighting: str = "example",
    l2: float = L2,
) -> Calibration:
    """Ridge logistic regression by Newton's method (a handful of features: no library).
    `l2` is the ridge per unit of example weight; with weighting "example" every weight is 1
    and the arithmetic is the shipped fit's."""
    prior = prior_of(groups)
    shrink = Calibration(0.0, (0.0,) * len(FEATURE_NAMES), prior, PRIOR_WEIGHT)
    xs: list[list[float]] = []
    ys: list[float] = []
    weights = example_weights(groups, weighting)
    for group in groups:
        for p in group:
            xs.append([1.0, *features(p.text, p.parts, shrink.background(p.background))])
            ys.append(1.0 if p.is_original else 0.0)
    d = len(xs[0])
    w = [0.0] * d
    for _ in range(iterations):
        grad = [0.0] * d
        hess = [[0.0] * d for _ in range(d)]
        for x, y, weight in zip(xs, ys, weights, strict=True):
            z = sum(a * b for a, b in zip(w, x, strict=True))
            p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
            s = weight * p * (1 - p)
            r = weight * (p - y)
            for j in range(d):
                grad[j] += r * x[j]
                for k in range(j, d):
                    hess[j][k] += s * x[j] * x[k]
        for j in range(d):
            for k in range(j):
                hess[j][k] = hess[k][j]
        ridge = l2 * sum(weights)
        for j in range(1, d):
            grad[j] += ridge * w[j]
            hess[j][j] += ridge
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
    return lowest_threshold(held)


# --- Issue 16c: the variants tried for a strictly nested threshold (see duplicates_eval.md) ---

MIN_FLAGS = 20  # 1 / (1 - TARGET_PRECISION): below it one wrong flag costs more than 5 points
CROSS_FOLDS = 5
THRESHOLD_RULES = {
    "inner_every": "inner LOPO; every inner held-out project keeps P >= 0.95 all the way up "
    "(the shipped rule)",
    "inner_every_min20": "as inner_every, judged only where a project has >= 20 flags "
    "(16c primary, pre-registered)",
    "inner_every_margin": "inner_every + 0.05",
    "inner_macro_min20": "inner LOPO; the mean of the inner held-out projects' precisions "
    ">= 0.95 all the way up, judged where each has >= 20 flags",
    "crossfit_min20": "5-fold cross-fitted probabilities within the training projects (all "
    "projects in every fit); every training project keeps P >= 0.95 all the way up where it "
    "has >= 20 flags (16c second attempt, written after the primary failed)",
    "in_sample_min20": "as crossfit_min20 on the fitted model's own (in-sample) probabilities",
}


def lowest_threshold(
    held: Sequence[Sequence[ev.Outcome]], *, min_flags: int = 0, macro: bool = False
) -> float:
    """Scanning the grid downwards, the last threshold before the first one where a held-out
    set (or, with `macro`, the mean of their precisions) falls under TARGET_PRECISION. A set
    with no flags, or fewer than `min_flags`, is not judged at that threshold."""
    chosen = THRESHOLD_GRID[0]
    for t in THRESHOLD_GRID:
        ms = [ev.metrics(o, t) for o in held]
        judged = [m for m in ms if m["flags"] and m["flags"] >= min_flags]
        if macro:
            ok = len(judged) < len(ms) or (
                sum(float(m["precision"]) for m in ms) / len(ms) >= TARGET_PRECISION
            )
        else:
            ok = all(float(m["precision"]) >= TARGET_PRECISION for m in judged)
        if not ok:
            break
        chosen = t
    return chosen


def _fold_of(groups: Sequence[Sequence[Pair]], seed: int) -> dict[tuple[str, str], int]:
    """(source, new ticket) -> fold: both histories of a pair share a fold; per project, the
    pairs are shuffled with a seeded generator and dealt round-robin."""
    keys: dict[str, set[tuple[str, str]]] = {}
    for g in groups:
        h = g[0].history
        keys.setdefault(project_of(h.source), set()).add((h.source, h.new))
    out: dict[tuple[str, str], int] = {}
    for name, ks in sorted(keys.items()):
        ordered = sorted(ks)
        random.Random(f"folds:{seed}:{name}").shuffle(ordered)
        out.update({k: i % CROSS_FOLDS for i, k in enumerate(ordered)})
    return out


FitCache = dict[tuple[object, ...], object]


def _fit_memo(
    cache: FitCache, groups: Sequence[Sequence[Pair]], weighting: str, l2: float
) -> Calibration:
    """fit(), remembered per (weighting, l2, the very groups) for variants()."""
    key = ("fit", weighting, l2, tuple(id(g) for g in groups))
    if key not in cache:
        cache[key] = fit(groups, weighting=weighting, l2=l2)
    return cache[key]  # type: ignore[return-value]


def _outcomes_memo(
    cache: FitCache, groups: Sequence[Sequence[Pair]], cal: Calibration
) -> list[ev.Outcome]:
    key = ("outcomes", id(cal), tuple(id(g) for g in groups))
    if key not in cache:
        cache[key] = history_outcomes(groups, cal)
    return cache[key]  # type: ignore[return-value]


def rule_threshold(
    projects: dict[str, list[Sequence[Pair]]],
    rule: str,
    *,
    weighting: str = "example",
    l2: float = L2,
    seed: int = 7,
    cache: FitCache | None = None,
) -> float:
    """The flag threshold `rule` (a THRESHOLD_RULES key) picks from `projects` alone.
    `cache` keeps fits and held-out outcomes across calls (variants())."""
    names = sorted(projects)
    memo: FitCache = {} if cache is None else cache
    if rule.startswith("inner_"):
        if len(names) < 2:
            return THRESHOLD_GRID[0]
        held = []
        for name in names:
            train = [g for other in names if other != name for g in projects[other]]
            held.append(_outcomes_memo(memo, projects[name], _fit_memo(memo, train, weighting, l2)))
        if rule == "inner_every":
            return lowest_threshold(held)
        if rule == "inner_every_min20":
            return lowest_threshold(held, min_flags=MIN_FLAGS)
        if rule == "inner_every_margin":
            return min(THRESHOLD_GRID[0], round(lowest_threshold(held) + 0.05, 2))
        if rule == "inner_macro_min20":
            return lowest_threshold(held, min_flags=MIN_FLAGS, macro=True)
    everything = [g for name in names for g in projects[name]]
    if rule == "in_sample_min20":
        cal = _fit_memo(memo, everything, weighting, l2)
        return lowest_threshold(
            [_outcomes_memo(memo, projects[n], cal) for n in names], min_flags=MIN_FLAGS
        )
    if rule == "crossfit_min20":
        fold = _fold_of(everything, seed)
        per: dict[str, list[ev.Outcome]] = {n: [] for n in names}
        for f in range(CROSS_FOLDS):
            key = lambda g: (g[0].history.source, g[0].history.new)  # noqa: E731
            cal = _fit_memo(memo, [g for g in everything if fold[key(g)] != f], weighting, l2)
            for n in names:
                per[n] += _outcomes_memo(memo, [g for g in projects[n] if fold[key(g)] == f], cal)
        return lowest_threshold([per[n] for n in names], min_flags=MIN_FLAGS)
    raise ValueError(f"unknown threshold rule {rule!r}")


def variants(groups: Sequence[Sequence[Pair]], seed: int = 7) -> dict[str, object]:
    """Every (fit weighting, L2, threshold rule) tried in issue 16c, strictly nested: for each
    left-out project the model and the threshold come from the other projects only."""
    projects = by_project(groups)
    table: dict[str, object] = {}
    cache: FitCache = {}
    for weighting in ("example", "project"):
        for l2 in (L2, 1e-2):
            for rule in THRESHOLD_RULES:
                row: dict[str, object] = {}
                for name, held in sorted(projects.items()):
                    others = {k: v for k, v in projects.items() if k != name}
                    cal = _fit_memo(cache, [g for gs in others.values() for g in gs], weighting, l2)
                    t = rule_threshold(
                        others, rule, weighting=weighting, l2=l2, seed=seed, cache=cache
                    )
                    m = ev.summary(_outcomes_memo(cache, held, cal), t)
                    row[name] = {
                        k: m[k]
                        for k in ("threshold", "precision", "recall", "flags", "correct_flags",
                                  "recall_at_1")
                    }  # fmt: skip
                meets = all(
                    float(r["precision"]) >= TARGET_PRECISION and float(r["recall"]) >= 0.55  # type: ignore[index]
                    for r in row.values()
                )
                table[f"{weighting}/l2={l2:g}/{rule}"] = {"meets_targets": meets, **row}
                print(f"{weighting}/l2={l2:g}/{rule}", "MEETS" if meets else "misses", row)
    return {
        "about": "issue 16c: strictly nested leave-one-project-out per variant; targets "
        f"P >= {TARGET_PRECISION} and R >= 0.55 on every left-out project",
        "rules": THRESHOLD_RULES,
        "weightings": {
            "example": "every (history, candidate) example weighs 1 (shipped)",
            "project": "every training project carries equal total weight",
        },
        "variants": table,
    }


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
    parser.add_argument(
        "--variants", type=Path, help="write the issue 16c variant table (strictly nested) here"
    )
    args = parser.parse_args(argv)
    sources = ev.load_folder(args.data.resolve())
    histories = ev.build_histories(sources, args.k, args.seed)
    groups = collect_pairs(sources, histories, args.seed)
    if args.variants:
        table = variants(groups, args.seed)
        shown = ["python", "bench/duplicates_fit.py", *(argv if argv is not None else sys.argv[1:])]
        table = {"command": shlex.join(shown), **table}
        args.variants.parent.mkdir(parents=True, exist_ok=True)
        args.variants.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
        return 0
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
