"""Benchmark: server time of each console page at 100,000 audit rows (one per ticket), beside
the same pages on an empty database and a bare Flask page rendering a template, in the same
run. Writes bench/results/console_pages.json.

    .venv/bin/python bench/console_bench.py [--rows 100000] [--repeat 30]

Server time is measured in-process through Flask's test client (request parsing, session,
CSRF, database queries, template rendering), so it excludes the network and the browser.
Plan & apply and the forecast are left out: their time is Zendesk's (API calls). Pages that
show requesters by name (a run, duplicates) read names with one `users/show_many` call to a
local sandbox served from this process; names are kept five minutes, so those pages are also
timed as first renders (names read again before every request). The duplicates page's first
render is timed twice, side by side: flags written before admin_dup_0003, whose evidence is
computed (and kept until a ticket is indexed again), and flags carrying their note's evidence.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, render_template_string
from sqlalchemy import select
from werkzeug.security import generate_password_hash

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import store  # noqa: E402 - after the path set-up, for direct runs
from app import create_app  # noqa: E402
from autosolve.models import SweepRun, SweepRunTicket  # noqa: E402
from console.versions import save_version  # noqa: E402
from console.views import NAMES_EXTENSION, TICKETS_EXTENSION  # noqa: E402
from duplicates.detection import EVIDENCE_EXTENSION, flag_evidence  # noqa: E402
from duplicates.models import DupFlag, DupTicket  # noqa: E402
from mappings import DEFAULT_DIR  # noqa: E402
from sandbox.testing import SandboxHandle, run_sandbox  # noqa: E402

PASSWORD = "bench"  # noqa: S105 - a throwaway local admin of the benchmark's own database

PAGES = [
    "/console/",
    "/console/mappings",
    "/console/mappings/teams/all_media",
    "/console/mappings/edit/resolution_types.toml",
    "/console/mappings/history",
    "/console/mappings/versions/2",
    "/console/autosolve",
    "/console/autosolve/runs/run-bench-0",
    "/console/duplicates",
    "/console/audit",
    "/console/audit?ticket=54321",
    "/console/audit?rule=status_mapping",
    "/console/audit?who=admin",
    "/console/audit?who=ana",
    "/console/audit?who=cxlayer",
    "/console/audit?from=2026-06-01&to=2026-06-02",
    "/console/inbox",
]
RULES = ["status_mapping", "auto_solve", "duplicates", "data_maintenance_approval", "routing"]


def _app(instance: str, zd: SandboxHandle) -> Flask:
    settings: dict[str, Any] = {
        "admin": {"password_hash": generate_password_hash(PASSWORD)},
        "zendesk": {
            "subdomain": zd.subdomain,
            "url": zd.base_url,
            "email": zd.email,
            "token": zd.token,
        },
    }
    app = create_app({"ENVIRON": {}, "INSTANCE_PATH": instance, "SETTINGS": settings})
    store.upgrade(app)
    return app


def _requesters(zd: SandboxHandle, n: int = 97) -> list[int]:
    """End users in the sandbox, for the pages that show requesters by name."""
    ids = []
    for i in range(n):
        answer = zd.api(
            "POST",
            "users.json",
            json={"user": {"name": f"Requester {i}", "email": f"bench-{i}@example.com"}},
        )
        answer.raise_for_status()
        ids.append(int(answer.json()["user"]["id"]))
    return ids


def _fill(app: Flask, rows: int, requesters: list[int]) -> None:
    """`rows` audit entries (tickets 1..rows, 1 % by admins), an inbox with a backlog and dead
    letters, 20 sweep runs of 500 tickets, 2,000 indexed tickets with 300 flags, 20 versions."""
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    audit = store.AuditEntry.__table__
    inbox = store.InboxEvent.__table__
    with store.session(app) as sess:
        batch: list[dict[str, Any]] = []
        for i in range(rows):
            admin = i % 100 == 0
            batch.append(
                {
                    "ticket_id": i + 1,
                    "rule": "console" if admin else RULES[i % len(RULES)],
                    "invocation_id": f"admin:{'ana' if i % 200 == 0 else 'bo'}"
                    if admin
                    else f"inv-{i}",
                    "action": "set_custom_status",
                    "before": {"status": "open"},
                    "after": {"status": "hold"},
                    "reason": "benchmark row",
                    "api_result": "ok",
                    "created_at": start + timedelta(seconds=i * 150),
                }
            )
            if len(batch) == 10_000:
                sess.execute(audit.insert(), batch)
                batch = []
        if batch:
            sess.execute(audit.insert(), batch)
        sess.execute(
            inbox.insert(),
            [
                {
                    "invocation_id": f"bench-{i}",
                    "ticket_id": i + 1,
                    "kind": "ticket.status_changed",
                    "payload": {"ticket_id": i + 1},
                    "received_at": start,
                    "status": "failed" if i % 50 == 0 else ("pending" if i % 7 == 0 else "done"),
                    "attempts": 8 if i % 50 == 0 else 1,
                    "last_error": "ZendeskError: 503" if i % 50 == 0 else None,
                }
                for i in range(5000)
            ],
        )
        for r in range(20):
            run_id = f"run-bench-{r}"
            sess.add(
                SweepRun(
                    id=run_id,
                    as_of=start,
                    dry_run=r % 2 == 1,
                    status="done",
                    started_at=start + timedelta(days=r),
                    examined=500,
                    changed=100,
                )
            )
            sess.add_all(
                SweepRunTicket(
                    run_id=run_id,
                    ticket_id=t,
                    decision=rng.choice(["solve", "remind", "wait"]),
                    reason="benchmark",
                    team="all_media",
                    write="ok",
                )
                for t in range(1, 501)
            )
        sess.add_all(
            DupTicket(
                id=t,
                requester_id=requesters[t % len(requesters)],
                status="open",
                created_at=start,
                subject=f"Campaign {t // 2} export to Excel fails",
                description=(
                    f"When I export campaign plan {t // 2} to Excel it spins and then fails "
                    f"with a timeout error. It worked last week. Order {rng.randrange(10**6)} "
                    f"is affected, and {rng.choice(['Monday', 'Tuesday', 'Friday'])} is the "
                    "deadline for the client."
                ),
            )
            for t in range(1, 2001)
        )
        sess.add_all(
            DupFlag(
                ticket_id=t,
                candidate_id=t - 1,
                score=0.3,
                source="webhook",
                flagged_at=start,
                applied=True,
            )
            for t in range(2, 602, 2)
        )
    teams = (DEFAULT_DIR / "teams.toml").read_text()
    for v in range(20):
        save_version(
            app,
            {"teams.toml": teams.replace("09:00-19:00", f"09:{v + 1:02d}-19:00", 1)},
            author="bench",
            summary=f"v{v}",
        )


def _store_evidence(app: Flask) -> None:
    """Give every flag the evidence its note showed, as `_record_flag` now stores it (the same
    `ticket_sentences`/`matching_sentences` on the index's idf model)."""
    with store.session(app) as sess:
        flags = list(sess.scalars(select(DupFlag)))
        found = flag_evidence(app, sess, [(f.ticket_id, f.candidate_id) for f in flags])
        for flag in flags:
            pairs = found[(flag.ticket_id, flag.candidate_id)]
            flag.evidence = [list(p) for p in pairs] if pairs is not None else None
    app.extensions.pop(EVIDENCE_EXTENSION, None)


def _time(
    client: Any, path: str, repeat: int, before: Callable[[], object] = lambda: None
) -> dict[str, float]:
    for _ in range(3):
        answer = client.get(path)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: {answer.status_code}")
    samples = []
    for _ in range(repeat):
        before()
        began = time.perf_counter()
        client.get(path)
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[max(0, int(len(samples) * 0.95) - 1)], 2),
        "max_ms": round(samples[-1], 2),
    }


def _signed_in(app: Flask) -> Any:
    client = app.test_client()
    page = client.get("/console/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    client.post(
        "/console/login",
        data={"csrf_token": token.group(1), "username": "admin", "password": PASSWORD},
    )
    return client


def _bare(repeat: int) -> dict[str, float]:
    app = Flask("bare")
    app.add_url_rule(
        "/",
        "bare",
        lambda: render_template_string(
            "<table>{% for i in r %}<tr><td>{{ i }}</td></tr>{% endfor %}</table>", r=range(50)
        ),
    )
    return _time(app.test_client(), "/", repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "console_pages.json"))
    options = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as full_dir,
        tempfile.TemporaryDirectory() as empty_dir,
        run_sandbox() as zd,
    ):
        began = time.perf_counter()
        full = _app(full_dir, zd)
        _fill(full, options.rows, _requesters(zd))
        fill_seconds = time.perf_counter() - began
        empty = _app(empty_dir, zd)
        save_version(
            empty,
            {
                "teams.toml": (DEFAULT_DIR / "teams.toml")
                .read_text()
                .replace("09:00-19:00", "09:01-19:00", 1)
            },
            author="bench",
            summary="v",
        )
        with store.session(empty) as sess:
            sess.add(
                SweepRun(
                    id="run-bench-0",
                    as_of=datetime(2026, 1, 1, tzinfo=UTC),
                    dry_run=False,
                    status="done",
                )
            )
        full_client, empty_client = _signed_in(full), _signed_in(empty)
        pages = {}
        for path in PAGES:
            at_rows = _time(full_client, path, options.repeat)
            empty_db = _time(empty_client, path, options.repeat)
            pages[path] = {
                f"at_{options.rows}_audit_rows": at_rows,
                "empty_database": empty_db,
                "ratio_p50": round(at_rows["p50_ms"] / empty_db["p50_ms"], 2),
            }
            print(
                f"{path:48s} p50 {at_rows['p50_ms']:7.2f} ms  p95 {at_rows['p95_ms']:7.2f} ms"
                f"  (empty db p50 {empty_db['p50_ms']:6.2f} ms)"
            )
        # First renders: the requesters' names read from Zendesk (kept five minutes) and, for
        # flags written before admin_dup_0003, each pair's evidence computed (kept until a
        # ticket is indexed again). Flags written since carry their note's evidence: timed
        # after it is stored on every flag, as the detector now writes it.
        for path, caches, label in (
            (
                "/console/duplicates",
                (EVIDENCE_EXTENSION, NAMES_EXTENSION, TICKETS_EXTENSION),
                "flags without stored evidence",
            ),
            ("/console/duplicates", (NAMES_EXTENSION, TICKETS_EXTENSION), "evidence stored"),
            ("/console/autosolve/runs/run-bench-0", (NAMES_EXTENSION, TICKETS_EXTENSION), ""),
        ):
            if label == "evidence stored":
                _store_evidence(full)

            def forget(caches: tuple[str, ...] = caches) -> None:
                for name in caches:
                    full.extensions.pop(name, None)

            what = ", ".join(c.rsplit(".", 1)[1] for c in caches)
            cold = f"{path} (first render: {what}{'; ' + label if label else ''})"
            at_rows = _time(full_client, path, options.repeat, forget)
            pages[cold] = {f"at_{options.rows}_audit_rows": at_rows}
            print(f"{cold:48s} p50 {at_rows['p50_ms']:7.2f} ms  p95 {at_rows['p95_ms']:7.2f} ms")
        firsts = [k for k in pages if k.startswith("/console/duplicates (first render")]
        computed, stored = (pages[k][f"at_{options.rows}_audit_rows"]["p50_ms"] for k in firsts)
        pages[firsts[1]]["ratio_p50_to_computed_evidence"] = round(stored / computed, 2)
        print(f"duplicates first render, evidence stored / computed: p50 {stored / computed:.2f}")
        bare = _bare(options.repeat)
        print(f"bare Flask template page: p50 {bare['p50_ms']} ms")
        worst = max(v[f"at_{options.rows}_audit_rows"]["p95_ms"] for v in pages.values())
    result = {
        "command": "python bench/console_bench.py " + shlex.join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "database": "SQLite (file, WAL)",
        "audit_rows": options.rows,
        "seconds_to_fill": round(fill_seconds, 1),
        "target_ms": 200,
        "worst_p95_ms": worst,
        "pages": pages,
        "baseline_bare_flask_template": bare,
    }
    Path(options.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"worst p95 {worst} ms (target 200 ms); written {options.out}")


if __name__ == "__main__":
    main()
