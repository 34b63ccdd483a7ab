"""Measure duplicate detection on labelled bug-report pairs: precision, recall, curves, baselines.

    python bench/duplicates_eval.py [--data DIR] [--json PATH] [--k 10] [--seed 7]

DIR holds any number of Eclipse-style `*_pairs.csv` files and GitBugs-style `*_bugs.csv` files
with their `*_bugs-combined.csv` (see ../shared/datasets/duplicates/README.md). For every labelled
pair the later report is the "new ticket"; it gets a requester history with the original among
k distractors from the same file (positive history) and one history of k + 1 distractors only
(negative history, to count false flags). A history is flagged when its best score reaches the
threshold; a flag is right only on a positive history and only if it points at the original.
"""

from __future__ import annotations

import argparse
import ast
import csv
import difflib
import json
import random
import re
import shlex
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))
if str(REPO / "bench") not in sys.path:  # duplicates_fit, imported in evaluate()
    sys.path.insert(0, str(REPO / "bench"))

from triggers.duplicates import DuplicateSettings, Match, score_candidates  # noqa: E402
from triggers.duplicates.calibration import BACKGROUND_SIZE, Calibration  # noqa: E402
from triggers.duplicates.candidates import IndexedTicket, TicketRow  # noqa: E402
from triggers.duplicates.normalise import normalise_subject, words  # noqa: E402
from triggers.duplicates.scoring import (  # noqa: E402
    DEFAULT_METHOD,
    F_ALL,
    F_SUBJECT,
    F_SUBJECT_CHARS,
    METHODS,
    Features,
    IdfModel,
    TextMethod,
)

DEFAULT_DATA = REPO.parent / "shared" / "datasets" / "duplicates"
TARGET_PRECISION = 0.95
BASELINE_THRESHOLD = 0.6
GRID = [round(i / 100, 2) for i in range(1, 101)]
# --explore: field weights (all words, subject words, subject character n-grams) tried on dev.
WEIGHT_GRID = [
    (0.7, 0.0, 0.3), (0.6, 0.0, 0.4), (0.5, 0.0, 0.5), (0.4, 0.0, 0.6), (0.5, 0.2, 0.3),
    (0.6, 0.1, 0.3), (0.4, 0.3, 0.3), (0.4, 0.2, 0.4), (0.3, 0.3, 0.4), (0.45, 0.15, 0.4),
]  # fmt: skip
# Every history shares one creation time: the labelled data has no requester timeline, so the
# time signal stays neutral and the text decides (product/organisation are absent too).
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

csv.field_size_limit(1 << 30)


@dataclass(frozen=True)
class Report:
    id: str
    summary: str
    description: str
    created: float | None = None


@dataclass
class Source:
    name: str
    reports: dict[str, Report] = field(default_factory=dict)
    links: set[frozenset[str]] = field(default_factory=set)
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (new, original)


def _id(value: str) -> str:
    value = value.strip()
    try:
        return str(int(float(value)))
    except ValueError:
        return value


def _listed_text(value: str) -> str:
    """Eclipse summaries/descriptions are Python list literals of strings."""
    value = value.strip()
    if value.startswith("["):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            return value.strip("[]'\"")
        if isinstance(parsed, list):
            return " ".join(str(part) for part in parsed)
    return value


def _created(value: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        pass
    for fmt in ("%d/%b/%y %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    return None


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def load_pairs_file(path: Path) -> Source:
    """An Eclipse-style file: one duplicate pair per row, both reports' texts inline."""
    source = Source(path.stem)
    for row in _read_rows(path):
        first = _id(row["Bug ID"])
        seconds = [_id(x) for x in re.split(r"[;,\s]+", row["Duplicate_Bug_Ids"]) if x.strip()]
        source.reports.setdefault(
            first, Report(first, _listed_text(row["Summary1"]), _listed_text(row["description1"]))
        )
        for second in seconds[:1]:  # the row's texts describe the first listed duplicate
            source.reports.setdefault(
                second,
                Report(second, _listed_text(row["summary2"]), _listed_text(row["description2"])),
            )
        for second in seconds:
            if second != first:
                source.links.add(frozenset((first, second)))
    _orient_pairs(source)
    return source


def load_gitbugs(bugs_path: Path) -> Source:
    """A GitBugs report file plus its `*-combined.csv` of duplicate links."""
    combined = bugs_path.with_name(bugs_path.name.removesuffix(".csv") + "-combined.csv")
    if not combined.exists():
        raise FileNotFoundError(f"{bugs_path} has no duplicate links file {combined.name}")
    source = Source(bugs_path.stem.removesuffix("_bugs"))
    for row in _read_rows(bugs_path):
        rid = _id(row["Issue id"])
        source.reports[rid] = Report(
            rid,
            row.get("Summary", ""),
            row.get("Description", ""),
            _created(row.get("Created", "")),
        )
    for row in _read_rows(combined):
        a, b = _id(row["Issue id"]), _id(row["Duplicate id"])
        if a != b and a in source.reports and b in source.reports:
            source.links.add(frozenset((a, b)))
    _orient_pairs(source)
    return source


def _orient_pairs(source: Source) -> None:
    """The later report of a pair is the new ticket (creation time, else the higher id)."""

    def order(rid: str) -> tuple[float, int]:
        report = source.reports[rid]
        number = int(rid) if rid.isdigit() else 0
        return (report.created if report.created is not None else float(number), number)

    for link in sorted(source.links, key=sorted):
        a, b = sorted(link, key=order)
        if a in source.reports and b in source.reports:
            source.pairs.append((b, a))


def load_folder(folder: Path) -> list[Source]:
    if not folder.is_dir():
        raise SystemExit(f"no data folder at {folder}")
    sources = [load_pairs_file(p) for p in sorted(folder.rglob("*_pairs.csv"))]
    sources += [load_gitbugs(p) for p in sorted(folder.rglob("*_bugs.csv"))]
    sources = [s for s in sources if s.pairs]
    if not sources:
        raise SystemExit(f"no *_pairs.csv or *_bugs.csv with usable pairs under {folder}")
    return sources


def _clusters(source: Source) -> dict[str, set[str]]:
    """Reports linked directly or transitively: never used as each other's distractors."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for link in source.links:
        a, b = sorted(link)
        parent[find(a)] = find(b)
    groups: dict[str, set[str]] = {}
    for x in list(parent):
        groups.setdefault(find(x), set()).add(x)
    return {x: groups[find(x)] for x in parent}


@dataclass(frozen=True)
class History:
    source: str
    split: str  # "dev" or "test"
    new: str
    original: str | None  # None: a negative history
    candidates: tuple[str, ...]


def _distractors(rng: random.Random, pool: list[str], related: set[str], n: int) -> list[str]:
    """n distinct reports from the pool, none linked to the new ticket."""
    if len(set(pool) - related) < n:
        raise SystemExit(f"not enough unrelated reports for {n} distractors; lower --k")
    chosen: list[str] = []
    while len(chosen) < n:
        pick = rng.choice(pool)
        if pick not in related and pick not in chosen:
            chosen.append(pick)
    return chosen


def build_histories(sources: Sequence[Source], k: int, seed: int) -> list[History]:
    histories: list[History] = []
    for source in sources:
        rng = random.Random(f"{seed}:{source.name}")
        clusters = _clusters(source)
        pool = sorted(source.reports)
        order = list(range(len(source.pairs)))
        rng.shuffle(order)
        dev = set(order[: len(order) // 2])
        for i, (new, original) in enumerate(source.pairs):
            related = clusters.get(new, {new}) | {new, original}

            split = "dev" if i in dev else "test"
            positive = [*_distractors(rng, pool, related, k), original]
            rng.shuffle(positive)
            histories.append(History(source.name, split, new, original, tuple(positive)))
            histories.append(
                History(
                    source.name, split, new, None, tuple(_distractors(rng, pool, related, k + 1))
                )
            )
    return histories


@dataclass(frozen=True)
class Outcome:
    """A history as one method saw it: its best score, whether the best is the original, and
    the original's rank (None on negative histories)."""

    history: History
    score: float
    best_is_original: bool
    rank: int | None
    best_id: str = ""


def _row(report: Report, number: int) -> TicketRow:
    return TicketRow(number, 1, None, None, None, "open", EPOCH, report.summary, report.description)


def _background(rng: random.Random, pool: list[str], excluded: set[str], size: int) -> list[str]:
    """The "account's other tickets" a new ticket is compared with (calibration background)."""
    size = min(size, len(set(pool) - excluded))
    chosen: set[str] = set()
    picked: list[str] = []
    while len(picked) < size:
        pick = rng.choice(pool)
        if pick not in excluded and pick not in chosen:
            chosen.add(pick)
            picked.append(pick)
    return picked


def run_cxlayer(
    sources: Sequence[Source],
    histories: Sequence[History],
    method: TextMethod,
    *,
    calibration: Calibration | None = None,
    calibrations: Mapping[str, Calibration] | None = None,
    collect: list[tuple[History, list[Match]]] | None = None,
    seed: int = 7,
    raw: bool = False,
) -> list[Outcome]:
    """Score every history with the production scorer. `calibrations` maps a source to the
    calibration to use for it (leave-one-project-out); `collect` receives the raw matches."""
    settings = DuplicateSettings()
    outcomes: list[Outcome] = []
    for source in sources:
        model = IdfModel()  # idf from this "account's" own tickets
        numbers = {rid: i + 1 for i, rid in enumerate(sorted(source.reports))}
        features: dict[str, Features] = {
            rid: model.learn(r.summary, r.description) for rid, r in source.reports.items()
        }
        report_of = {number: rid for rid, number in numbers.items()}
        rows = {rid: _row(r, numbers[rid]) for rid, r in source.reports.items()}
        clusters = _clusters(source)
        pool = sorted(source.reports)
        rng = random.Random(f"background:{seed}:{source.name}")
        cal = calibrations.get(source.name) if calibrations is not None else calibration
        for history in histories:
            if history.source != source.name:
                continue
            candidates = [IndexedTicket(rows[c], features[c]) for c in history.candidates]
            excluded = clusters.get(history.new, set()) | {history.new, *history.candidates}
            if history.original:
                excluded.add(history.original)
            background = [features[b] for b in _background(rng, pool, excluded, BACKGROUND_SIZE)]
            matches = score_candidates(
                rows[history.new], features[history.new], candidates, model, settings,
                method=method, sentences_for=0, background=background, calibration=cal, raw=raw,
            )  # fmt: skip
            if collect is not None:
                collect.append((history, matches))
            outcomes.append(
                _outcome(history, [(report_of[m.candidate_id], m.score) for m in matches])
            )
    return outcomes


def _outcome(history: History, ranked: list[tuple[str, float]]) -> Outcome:
    original = history.original
    rank = None
    if original is not None:
        rank = next((i + 1 for i, (cid, _) in enumerate(ranked) if cid == original), None)
    best_id, best_score = ranked[0] if ranked else ("", 0.0)
    return Outcome(history, best_score, original is not None and best_id == original, rank, best_id)


def run_title_baseline(
    sources: Sequence[Source],
    histories: Sequence[History],
    similarity: Callable[[str, str], float],
) -> list[Outcome]:
    reports = {(s.name, rid): r for s in sources for rid, r in s.reports.items()}
    outcomes = []
    for history in histories:
        new = reports[(history.source, history.new)].summary
        scored = [
            (cid, similarity(new, reports[(history.source, cid)].summary))
            for cid in history.candidates
        ]
        scored.sort(key=lambda item: -item[1])  # stable: ties keep history order
        outcomes.append(_outcome(history, scored))
    return outcomes


def _title_key(title: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", normalise_subject(title).lower()))


def exact_subject(a: str, b: str) -> float:
    return 1.0 if _title_key(a) and _title_key(a) == _title_key(b) else 0.0


def difflib_title(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, _title_key(a), _title_key(b)).ratio()


def jaccard_title(a: str, b: str) -> float:
    x, y = set(words(normalise_subject(a))), set(words(normalise_subject(b)))
    return len(x & y) / len(x | y) if x | y else 0.0


def metrics(outcomes: Iterable[Outcome], threshold: float) -> dict[str, float | int]:
    outcomes = list(outcomes)
    positives = sum(1 for o in outcomes if o.history.original is not None)
    negatives = len(outcomes) - positives
    flagged = [o for o in outcomes if o.score >= threshold and o.score > 0.0]
    correct = sum(1 for o in flagged if o.best_is_original)
    false_on_negative = sum(1 for o in flagged if o.history.original is None)
    precision = correct / len(flagged) if flagged else 1.0
    recall = correct / positives if positives else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": threshold,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "flags": len(flagged),
        "correct_flags": correct,
        "false_flag_rate_no_original": round(false_on_negative / negatives, 4)
        if negatives
        else 0.0,
        "positives": positives,
        "negatives": negatives,
    }


def recall_at(outcomes: Iterable[Outcome], k: int) -> float:
    ranks = [o.rank for o in outcomes if o.history.original is not None]
    return (
        round(sum(1 for r in ranks if r is not None and r <= k) / len(ranks), 4) if ranks else 0.0
    )


def curve(
    outcomes: Sequence[Outcome], grid: Sequence[float] = GRID
) -> list[dict[str, float | int]]:
    return [metrics(outcomes, t) for t in grid]


def best_recall_at_precision(
    outcomes: Sequence[Outcome], target: float, grid: Sequence[float] = GRID
) -> dict[str, float | int] | None:
    """The operating point with the highest recall whose precision is at least `target`."""
    feasible = [m for m in curve(outcomes, grid) if m["precision"] >= target and m["flags"] > 0]
    return max(feasible, key=lambda m: (m["recall"], -m["threshold"])) if feasible else None


def choose_threshold(outcomes: Sequence[Outcome], target: float) -> float:
    """Lowest grid threshold from which precision stays >= target all the way up."""
    chosen = 1.0
    for m in reversed(curve(outcomes)):
        if m["flags"] and m["precision"] < target:
            break
        chosen = float(m["threshold"])
    return chosen


def false_flags(
    sources: Sequence[Source], outcomes: Sequence[Outcome], threshold: float, limit: int = 12
) -> list[dict[str, object]]:
    """The highest-scoring wrong flags, with both subjects, so a reader can judge the labels."""
    reports = {(s.name, rid): r for s in sources for rid, r in s.reports.items()}
    wrong = sorted(
        (o for o in outcomes if o.score >= threshold and not o.best_is_original),
        key=lambda o: -o.score,
    )
    return [
        {
            "source": o.history.source,
            "history": "with original" if o.history.original else "no original",
            "score": o.score,
            "new": f"{o.history.new}: {reports[(o.history.source, o.history.new)].summary}",
            "flagged": f"{o.best_id}: {reports[(o.history.source, o.best_id)].summary}",
        }
        for o in wrong[:limit]
    ]


def configured_threshold() -> float:
    with (REPO / "settings.toml").open("rb") as handle:
        section = tomllib.load(handle).get("duplicates", {})
    return float(section.get("flag_threshold", 0.6))


def summary(outcomes: Sequence[Outcome], threshold: float) -> dict[str, object]:
    out: dict[str, object] = dict(metrics(outcomes, threshold))
    out["recall_at_1"] = recall_at(outcomes, 1)
    out["recall_at_5"] = recall_at(outcomes, 5)
    return out


def explore_weights(sources: Sequence[Source], histories: Sequence[History]) -> list[object]:
    """Recall at precision >= 0.95 on dev (and, for information only, test) per weight triple."""
    rows: list[object] = []
    for a, s, c in WEIGHT_GRID:
        method = TextMethod(
            f"fields_{a}_{s}_{c}", "cosine", ((F_ALL, a), (F_SUBJECT, s), (F_SUBJECT_CHARS, c))
        )
        outcomes = run_cxlayer(sources, histories, method, raw=True)
        dev = best_recall_at_precision(
            [o for o in outcomes if o.history.split == "dev"], TARGET_PRECISION
        )
        test = best_recall_at_precision(
            [o for o in outcomes if o.history.split == "test"], TARGET_PRECISION
        )
        rows.append({
            "weights": {F_ALL: a, F_SUBJECT: s, F_SUBJECT_CHARS: c},
            "dev_recall_at_precision_0.95": dev["recall"] if dev else None,
            "dev_threshold": dev["threshold"] if dev else None,
            "test_recall_at_precision_0.95": test["recall"] if test else None,
            "recall_at_1": recall_at(outcomes, 1),
        })  # fmt: skip
    return rows


def evaluate(
    folder: Path, k: int, seed: int, threshold: float | None, explore: bool = False
) -> dict[str, object]:
    started = time.perf_counter()
    sources = load_folder(folder)
    histories = build_histories(sources, k, seed)
    flag_threshold = configured_threshold() if threshold is None else threshold

    def part(outcomes: Sequence[Outcome], split: str) -> list[Outcome]:
        return [o for o in outcomes if o.history.split == split]

    methods: dict[str, object] = {}
    runs: dict[str, list[Outcome]] = {}
    for name, method in METHODS.items():
        runs[name] = run_cxlayer(sources, histories, method, raw=True)
        dev, test = part(runs[name], "dev"), part(runs[name], "test")
        methods[name] = {
            "dev_best_at_precision_0.95": best_recall_at_precision(dev, TARGET_PRECISION),
            "test_best_at_precision_0.95": best_recall_at_precision(test, TARGET_PRECISION),
            "dev_recall_at_1": recall_at(dev, 1),
            "test_recall_at_1": recall_at(test, 1),
        }
    # The shipped scorer: calibrated probability (triggers/duplicates/calibration.json).
    ours = run_cxlayer(sources, histories, DEFAULT_METHOD, seed=seed)
    dev, test = part(ours, "dev"), part(ours, "test")
    import duplicates_fit as fitting  # noqa: PLC0415 -- it imports this module

    groups = fitting.collect_pairs(sources, histories, seed)
    lopo = fitting.leave_one_project_out(groups, flag_threshold)
    recommended = choose_threshold(dev, TARGET_PRECISION)

    # Cross-source check: threshold from every source but the last GitBugs one, applied to it.
    cross: dict[str, object] = {}
    held = [s.name for s in sources if s.name.lower().startswith("hadoop")]
    if held and len(sources) > 1:
        tuned = [o for o in ours if o.history.source not in held]
        held_out = [o for o in ours if o.history.source in held]
        t = choose_threshold(tuned, TARGET_PRECISION)
        cross = {
            "threshold_chosen_on": sorted({o.history.source for o in tuned}),
            "held_out": held,
            "flag_threshold": t,
            "held_out_result": summary(held_out, t),
        }

    baselines_fns: dict[str, tuple[Callable[[str, str], float], float]] = {
        "exact_normalised_subject": (exact_subject, 1.0),
        "title_difflib_ratio_0.6": (difflib_title, BASELINE_THRESHOLD),
        "title_token_jaccard_0.6": (jaccard_title, BASELINE_THRESHOLD),
    }
    baselines: dict[str, object] = {}
    equal_precision: dict[str, object] = {}
    for name, (fn, t) in baselines_fns.items():
        outcomes = run_title_baseline(sources, histories, fn)
        at = summary(outcomes, t)
        baselines[name] = {
            **at,
            "test": summary(part(outcomes, "test"), t),
            "best_at_precision_0.95": best_recall_at_precision(outcomes, TARGET_PRECISION),
        }
        ours_there = best_recall_at_precision(ours, float(at["precision"]))  # type: ignore[arg-type]
        equal_precision[name] = {
            "baseline_precision": at["precision"],
            "baseline_recall": at["recall"],
            "cxlayer_recall_at_precision_at_least_that": ours_there["recall"]
            if ours_there
            else None,
            "cxlayer_threshold": ours_there["threshold"] if ours_there else None,
        }

    by_source = {
        s.name: {
            "reports": len(s.reports),
            "pairs": len(s.pairs),
            "at_recommended_threshold_test": summary(
                [o for o in test if o.history.source == s.name], recommended
            ),
        }
        for s in sources
    }
    at_configured = summary(ours, flag_threshold)
    return {
        "data": str(folder),
        "k_distractors": k,
        "seed": seed,
        "method": DEFAULT_METHOD.name,
        "pairs": sum(len(s.pairs) for s in sources),
        "histories": len(histories),
        "leave_one_project_out": {
            "rule": "per left-out project: model fitted on the other projects only; "
            "'nested_threshold' chosen by inner leave-one-project-out on those projects; "
            "'at_shipped_threshold' uses the shipped flag_threshold; "
            "'pooled_nested_threshold': the inner held-out outcomes pooled (informational)",
            "projects": lopo,
        },
        "cxlayer": {
            "precision": at_configured["precision"],
            "recall": at_configured["recall"],
            "f1": at_configured["f1"],
            "recall_at_1": at_configured["recall_at_1"],
            "recall_at_5": at_configured["recall_at_5"],
            "flag_threshold": flag_threshold,
            "false_flag_rate_no_original": at_configured["false_flag_rate_no_original"],
            "precision_at_10_percent_duplicates": fitting.precision_at_share(
                ours, flag_threshold, 0.10
            ),
            "note": "shipped calibration, fitted on the committed data: in-sample on it; "
            "see leave_one_project_out for held-out figures",
        },
        "recommended": {
            "rule": f"lowest threshold whose dev-split precision stays >= {TARGET_PRECISION}",
            "flag_threshold": recommended,
            "dev": summary(dev, recommended),
            "test_held_out": summary(test, recommended),
            "all": summary(ours, recommended),
        },
        "cross_source": cross,
        "baselines": baselines,
        "equal_precision": equal_precision,
        "methods": methods,
        "sources": by_source,
        "curve": curve(ours),
        "false_flags_at_recommended_threshold": false_flags(sources, ours, recommended),
        **({"weight_grid": explore_weights(sources, histories)} if explore else {}),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder of labelled data")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--k", type=int, default=10, help="distractors per history")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threshold", type=float, help="flag threshold (default: settings.toml)")
    parser.add_argument("--explore", action="store_true", help="also run the field-weight grid")
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be at least 1")
    result = evaluate(args.data.resolve(), args.k, args.seed, args.threshold, args.explore)
    shown = ["python", "bench/duplicates_eval.py", *(argv if argv is not None else sys.argv[1:])]
    result = {"command": shlex.join(shown), **result}
    c = result["cxlayer"]
    r = result["recommended"]
    print(f"{result['pairs']} pairs, {result['histories']} histories, method {result['method']}")
    print(f"cxlayer @ {c['flag_threshold']}: P={c['precision']} R={c['recall']} F1={c['f1']} "  # type: ignore[index]
          f"R@1={c['recall_at_1']} R@5={c['recall_at_5']}")  # type: ignore[index]  # fmt: skip
    print(f"recommended threshold {r['flag_threshold']}: held-out {r['test_held_out']}")  # type: ignore[index]
    for name, p in result["leave_one_project_out"]["projects"].items():  # type: ignore[index]
        for key in ("at_shipped_threshold", "at_nested_threshold", "at_pooled_nested_threshold"):
            m = p[key]
            print(f"left out {name} {key}: t={m['threshold']} P={m['precision']} "
                  f"R={m['recall']} R@1={m['recall_at_1']} R@5={m['recall_at_5']} "
                  f"P@10%={m['precision_at_10_percent_duplicates']}")  # fmt: skip
    for name, b in result["baselines"].items():  # type: ignore[attr-defined]
        print(f"baseline {name}: P={b['precision']} R={b['recall']} F1={b['f1']}")
    for name, m in result["methods"].items():  # type: ignore[attr-defined]
        print(f"method {name}: {m}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
