"""Time and memory of duplicate scoring with a large index, beside a naive baseline in one run.

    python bench/duplicates_speed.py [--data DIR] [--sizes 10000 50000 100000] [--queries 1000]
                                     [--traced 10000] [--json bench/results/duplicates_speed.json]

Tickets are synthetic but built from the labelled reports' real subjects and descriptions
(subject of one report, description of another, so texts vary), spread over 90 days, with a
heavy-tailed number of tickets per requester (most requesters file a few, a few file hundreds).
Latency: `find_duplicates` for new tickets of requesters drawn in proportion to their volume
(candidate lookup, scoring, matching sentences for flagged candidates). Baseline: the same
scoring, but recomputing every candidate's features from its text (no stored vectors).
Memory, two ways: (1) the process's resident set (RSS, /proc/self/statm) grown while the
index is built without tracing, read at each size: everything the index holds, allocator slack
included; each ticket gets its own copy of its texts, as tickets loaded from the database do,
and the bench holds no other reference to them. The index is the service's: descriptions are
not kept in memory (`TicketIndex(keep_descriptions=False)`; the note's matching sentences read
flagged candidates' descriptions, here from the bench's rows, in the service from dup_ticket).
Beside it, in a child process (a clean RSS), the same build keeping descriptions in memory,
as the index did before (`--no-memory-baseline` skips it). (2) tracemalloc on a separate
build of the first `--traced` tickets, split by what holds the memory (tracemalloc makes
building ~10x slower, so it is not run at the largest size).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.duplicates_eval import DEFAULT_DATA, load_folder  # noqa: E402
from triggers.duplicates import (  # noqa: E402
    DescriptionReader,
    DuplicateSettings,
    IndexedTicket,
    TicketIndex,
    TicketRow,
    find_duplicates,
    score_candidates,
)
from triggers.duplicates.calibration import BACKGROUND_SIZE  # noqa: E402
from triggers.duplicates.scoring import Match, term_counts  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_DAYS = 90  # the index keeps about a quarter of tickets; the window looks at 14 days
STATUSES = ["new", "open", "open", "pending", "solved", "closed", "closed", "closed"]


def texts(folder: Path) -> list[tuple[str, str]]:
    return [(r.summary, r.description) for s in load_folder(folder) for r in s.reports.values()]


def requester_sizes(total: int, rng: random.Random) -> list[int]:
    """Tickets per requester: Pareto-tailed, capped at 2% of the index (a noisy integration)."""
    sizes: list[int] = []
    cap = max(1, total // 50)
    while sum(sizes) < total:
        sizes.append(min(cap, int(rng.paretovariate(1.3))))
    sizes[-1] -= sum(sizes) - total
    return [s for s in sizes if s > 0]


def synthetic_rows(total: int, pool: list[tuple[str, str]], seed: int) -> list[TicketRow]:
    rng = random.Random(seed)
    rows: list[TicketRow] = []
    ticket_id = 1
    for requester, size in enumerate(requester_sizes(total, rng), start=1):
        organization = requester // 20 + 1
        product = rng.choice(["prisma", "lumina", "spectra", None])
        for _ in range(size):
            subject = pool[rng.randrange(len(pool))][0]
            description = pool[rng.randrange(len(pool))][1]
            created = START + timedelta(seconds=rng.uniform(0, SPAN_DAYS * 86400))
            rows.append(
                TicketRow(
                    ticket_id, requester, organization, None, product, rng.choice(STATUSES),
                    created, subject, description,
                )
            )  # fmt: skip
            ticket_id += 1
    return rows


def _own(text: str) -> str:
    """A copy of a string (slicing a whole str returns the same object): each indexed ticket
    owns its texts, as rows read from the database do, so the memory counts them."""
    return (text + ".")[:-1] if text else text


def owned_rows(total: int, pool: list[tuple[str, str]], seed: int) -> Iterator[TicketRow]:
    """`synthetic_rows`, one at a time, each with its own subject and description strings."""
    for row in synthetic_rows(total, pool, seed):
        yield TicketRow(
            row.id, row.requester_id, row.organization_id, row.group, row.product, row.status,
            row.created_at, _own(row.subject), _own(row.description),
        )  # fmt: skip


def _rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def build_measured(
    total: int,
    pool: list[tuple[str, str]],
    seed: int,
    sizes: Sequence[int],
    *,
    keep_descriptions: bool = False,
) -> tuple[TicketIndex, list[dict[str, float]]]:
    """Build one index (no tracing), reading the RSS it added as it passes each size."""
    gc.collect()
    before = _rss()
    index = TicketIndex(keep_descriptions=keep_descriptions)
    memory: list[dict[str, float]] = []
    started = time.perf_counter()
    rows = owned_rows(total, pool, seed)
    done = 0
    for size in sorted(sizes):
        index.upsert_many(next(rows) for _ in range(size - done))
        done = size
        gc.collect()
        used = _rss() - before
        memory.append({
            "tickets": size,
            "rss_mib": round(used / 2**20, 1),
            "rss_bytes_per_ticket": round(used / size),
            "rss_mib_per_100k_tickets": round(used / size * 100_000 / 2**20, 1),
            "vocabulary": len(index.model.vocabulary),
            "build_seconds_so_far": round(time.perf_counter() - started, 1),
            "build_ms_per_ticket_so_far": round((time.perf_counter() - started) * 1000 / size, 3),
        })  # fmt: skip
        print(f"memory {memory[-1]}", flush=True)
    return index, memory


# What holds the traced memory, by the file that allocated it.
_HOLDERS = {
    "candidates.py": "ticket rows, texts, requester/organisation lists",
    "scoring.py": "features (term ids and counts), vocabulary ids, df/idf arrays",
    "normalise.py": "vocabulary strings, boilerplate line counts",
    "replies.py": "vocabulary strings (text cleaning)",
    "duplicates_speed.py": "each ticket's own subject and description strings (see _own)",
}


def traced_build(total: int, pool: list[tuple[str, str]], seed: int) -> dict[str, object]:
    """tracemalloc's traced size of an index of `total` tickets, split by allocating file."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    index = TicketIndex(keep_descriptions=False)
    index.upsert_many(owned_rows(total, pool, seed))
    gc.collect()
    used = tracemalloc.get_traced_memory()[0] - before
    by_file: dict[str, int] = {}
    for stat in tracemalloc.take_snapshot().statistics("filename"):
        name = Path(stat.traceback[0].filename).name
        if name in _HOLDERS:
            by_file[name] = by_file.get(name, 0) + stat.size
    tracemalloc.stop()
    result = {
        "tickets": total,
        "traced_mib": round(used / 2**20, 1),
        "traced_bytes_per_ticket": round(used / total),
        "vocabulary": len(index.model.vocabulary),
        "bytes_per_ticket_by_allocating_file": {
            f"{name} ({_HOLDERS[name]})": round(size / total) for name, size in by_file.items()
        },
        "seconds_under_tracemalloc": round(time.perf_counter() - started, 1),
    }
    print(f"traced {result}", flush=True)
    return result


def naive_find(
    row: TicketRow,
    index: TicketIndex,
    settings: DuplicateSettings,
    texts: dict[int, TicketRow],
) -> list[Match]:
    """The baseline: the same candidates and scoring, features recomputed from text each time
    (`texts`: the indexed rows with their descriptions)."""
    model = index.model

    def recomputed(ticket: IndexedTicket) -> IndexedTicket:
        full = texts[ticket.row.id]
        counts = term_counts(full.subject, full.description, model.is_common_line)
        return IndexedTicket(
            full, model.features(counts, learn=False), ticket.auto_reply, ticket.digest
        )

    fresh = [
        recomputed(c)
        for c in index.candidates(
            row, window_days=settings.window_days, limit=settings.max_candidates
        )
    ]
    features = model.features(
        term_counts(row.subject, row.description, model.is_common_line), learn=False
    )
    background = (
        [recomputed(t).features for t in index.background(row, BACKGROUND_SIZE)] if fresh else []
    )
    return score_candidates(row, features, fresh, model, settings, background=background)


def reader(texts: dict[int, TicketRow]) -> DescriptionReader:
    """The service reads flagged candidates' descriptions from dup_ticket; the bench from its
    rows (a dict lookup: the database query's time is not in the figures)."""
    return lambda ids: {i: texts[i].description for i in ids if i in texts}


def capped_latency(
    index: TicketIndex,
    new_rows: Sequence[TicketRow],
    settings: DuplicateSettings,
    cap: int,
    best: Sequence[list[tuple[int, bool]]],
    *,
    descriptions: DescriptionReader,
) -> dict[str, object]:
    """The same queries with `max_candidates = cap` (the newest `cap` open tickets of the
    requester): latency, and on how many queries the best candidate or the flag changed."""
    capped = replace(settings, max_candidates=cap)
    wall: list[float] = []
    cpu: list[float] = []
    changed = 0
    for row, before in zip(new_rows, best, strict=True):
        started, started_cpu = time.perf_counter(), time.process_time()
        matches = find_duplicates(row, index, index.model, capped, descriptions=descriptions)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        changed += [
            (m.candidate_id, m.score >= capped.flag_threshold) for m in matches[:1]
        ] != before
    return {
        "max_candidates": cap,
        "cxlayer": percentiles(wall),
        "cpu_time": percentiles(cpu),
        "queries_whose_best_candidate_or_flag_changed": changed,
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100)
    return {
        "p50_ms": round(q[49] * 1000, 3),
        "p90_ms": round(q[89] * 1000, 3),
        "p99_ms": round(q[98] * 1000, 3),
        "max_ms": round(ordered[-1] * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


def latency(
    index: TicketIndex,
    rows: Sequence[TicketRow],
    pool: list[tuple[str, str]],
    queries: int,
    seed: int,
    *,
    caps: Sequence[int] = (),
) -> dict[str, object]:
    rng = random.Random(seed + 1)
    settings = DuplicateSettings()
    texts = {r.id: r for r in rows}
    descriptions = reader(texts)
    end = max(r.created_at for r in rows)
    new_rows = []
    for i in range(queries):
        owner = rows[rng.randrange(len(rows))]  # proportional to requester volume
        if rng.random() < 0.3:  # a re-send of one of their tickets: the case we are here for
            subject, description = owner.subject, owner.description
        else:
            subject, description = pool[rng.randrange(len(pool))]
        new_rows.append(
            TicketRow(
                10_000_000 + i, owner.requester_id, owner.organization_id, None, owner.product,
                "new", end - timedelta(seconds=rng.uniform(0, 86400)), subject, description,
            )
        )  # fmt: skip
    candidates = [
        len(index.candidates(r, window_days=settings.window_days, limit=settings.max_candidates))
        for r in new_rows
    ]
    timings: dict[str, list[float]] = {"cxlayer": [], "naive_recompute": []}
    # CPU time beside wall time: on a shared machine wall time includes waiting for a core.
    cpu: dict[str, list[float]] = {"cxlayer": [], "naive_recompute": []}
    flagged = 0
    best: list[list[tuple[int, bool]]] = []
    disagreements = 0
    largest_gap = 0.0
    # Interleave the two so machine noise hits both alike.
    for row in new_rows:
        started, started_cpu = time.perf_counter(), time.process_time()
        matches = find_duplicates(row, index, index.model, settings, descriptions=descriptions)
        timings["cxlayer"].append(time.perf_counter() - started)
        cpu["cxlayer"].append(time.process_time() - started_cpu)
        started, started_cpu = time.perf_counter(), time.process_time()
        naive = naive_find(row, index, settings, texts)
        timings["naive_recompute"].append(time.perf_counter() - started)
        cpu["naive_recompute"].append(time.process_time() - started_cpu)
        # Cached norms may lag the corpus by up to 1%: count (rare) disagreements, do not hide them.
        disagreements += [m.candidate_id for m in matches[:1]] != [
            m.candidate_id for m in naive[:1]
        ]
        largest_gap = max(
            [largest_gap] + [abs(a.score - b.score) for a, b in zip(
                sorted(matches, key=lambda m: m.candidate_id),
                sorted(naive, key=lambda m: m.candidate_id), strict=True)]
        )  # fmt: skip
        flagged += bool(matches and matches[0].score >= settings.flag_threshold)
        best.append([(m.candidate_id, m.score >= settings.flag_threshold) for m in matches[:1]])
    capped = {
        str(cap): capped_latency(
            index, new_rows, settings, cap, [m[:1] for m in best], descriptions=descriptions
        )
        for cap in caps
    }
    ours = percentiles(timings["cxlayer"])
    base = percentiles(timings["naive_recompute"])
    busy = [i for i, n in enumerate(candidates) if n > 0]  # the queries that score anything
    return {
        "queries": queries,
        "candidates": {
            "p50": statistics.median(candidates),
            "p99": sorted(candidates)[int(0.99 * (len(candidates) - 1))],
            "max": max(candidates),
        },
        "flagged_share": round(flagged / queries, 3),
        "best_candidate_disagreements_with_baseline": disagreements,
        "largest_score_difference_with_baseline": round(largest_gap, 6),
        "cxlayer": ours,
        "naive_recompute": base,
        "p99_speedup": round(base["p99_ms"] / ours["p99_ms"], 1) if ours["p99_ms"] else None,
        "cpu_time": {name: percentiles(values) for name, values in cpu.items()},
        "with_fewer_candidates": capped,
        "queries_with_candidates": len(busy),
        "cxlayer_with_candidates": percentiles([timings["cxlayer"][i] for i in busy])
        if len(busy) > 1
        else None,
        "naive_recompute_with_candidates": percentiles(
            [timings["naive_recompute"][i] for i in busy]
        )
        if len(busy) > 1
        else None,
    }


def memory_baseline(data: Path, sizes: Sequence[int], seed: int) -> list[dict[str, float]]:
    """`build_measured` keeping descriptions in memory (the index before issue 16m), in a child
    process: its RSS starts clean (memory freed by one build is reused by the next)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-only"]
    command += ["--keep-descriptions", "--data", str(data), "--seed", str(seed), "--sizes"]
    command += [str(size) for size in sizes]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: list[dict[str, float]] = json.loads(done.stdout.splitlines()[-1])
    print(f"memory keeping descriptions {result}", flush=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument(
        "--traced", type=int, default=10_000, help="tickets built under tracemalloc (0: none)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--also-max-candidates",
        type=int,
        nargs="*",
        default=[50],
        help="also time the queries with these max_candidates (default setting: 200)",
    )
    parser.add_argument(
        "--no-memory-baseline",
        action="store_true",
        help="skip the build that keeps descriptions in memory (the index before issue 16m)",
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only the RSS build (no latency, no tracing); its figures as JSON on stdout",
    )
    parser.add_argument(
        "--keep-descriptions", action="store_true", help="build the index keeping descriptions"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    pool = texts(args.data.resolve())
    sizes = sorted(args.sizes)
    if args.memory_only:
        _, memory = build_measured(
            sizes[-1], pool, args.seed, sizes, keep_descriptions=args.keep_descriptions
        )
        print(json.dumps(memory))
        return 0
    baseline = None if args.no_memory_baseline else memory_baseline(args.data, sizes, args.seed)
    index, memory = build_measured(
        sizes[-1], pool, args.seed, sizes, keep_descriptions=args.keep_descriptions
    )
    rows = synthetic_rows(sizes[-1], pool, args.seed)  # the same rows again, for the queries
    lat = latency(index, rows, pool, args.queries, args.seed, caps=args.also_max_candidates)
    indexed = len(index)
    print(f"latency with {indexed} tickets: {lat}", flush=True)
    del index
    gc.collect()
    traced = traced_build(min(args.traced, sizes[-1]), pool, args.seed) if args.traced else None
    shown = ["python", "bench/duplicates_speed.py", *(argv if argv is not None else sys.argv[1:])]
    result = {
        "command": shlex.join(shown),
        "python": sys.version.split()[0],
        "index_tickets": indexed,
        "requesters": len({r.requester_id for r in rows}),
        "latency": lat,
        "memory_rss": memory,
        "memory_rss_keeping_descriptions": baseline,
        "memory_traced": traced,
        "target_p99_ms": 10.0,
        "load_average_1_5_15_min_at_end": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
