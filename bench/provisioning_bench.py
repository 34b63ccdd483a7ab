"""Benchmark: Zendesk API calls spent by provisioning (fresh account, then a no-op re-apply) and
by 1,000 ticket changes sent through update_many beside the same changes sent one ticket at a
time, all counted by the sandbox in one run. Writes bench/results/provisioning.json.

    .venv/bin/python bench/provisioning_bench.py [--tickets 1000]

API calls are the number that matters (Zendesk budgets are per minute, shared by every
integration); wall times are reported for context only: this machine is small and shared.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mappings import DEFAULT_DIR, load_mappings  # noqa: E402 - after the path set-up
from sandbox.testing import SandboxHandle, run_sandbox  # noqa: E402
from sync import MemoryStateStore, TicketChange, ZendeskClient  # noqa: E402
from sync.provisioning import apply  # noqa: E402

RESULT = ROOT / "bench" / "results" / "provisioning.json"


def api_calls(handle: SandboxHandle) -> dict[str, Any]:
    stats = handle.stats()
    endpoints = {k: v for k, v in stats["endpoints"].items() if "/api/" in k}
    return {
        "total": sum(endpoints.values()),
        "writes": sum(v for k, v in endpoints.items() if not k.startswith("GET ")),
        "endpoints": endpoints,
    }


def import_tickets(handle: SandboxHandle, count: int) -> list[dict[str, Any]]:
    for start in range(0, count, 100):
        batch = [
            {"subject": f"bench {i}", "description": "d", "requester_id": 1000001}
            for i in range(start, min(count, start + 100))
        ]
        job = handle.api("POST", "imports/tickets/create_many.json", json={"tickets": batch})
        handle.wait_job(job.json()["job_status"]["id"], timeout=120)
    tickets: list[dict[str, Any]] = []
    url: str | None = handle.base_url + "/api/v2/tickets.json?per_page=100"
    while url:
        page = handle.http.get(url, auth=handle.auth, timeout=30).json()
        tickets += page["tickets"]
        url = page["next_page"]
    return tickets


def measure(
    label: str, handle: SandboxHandle, func: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    handle.reset_stats()
    started = time.perf_counter()
    detail = func()
    seconds = time.perf_counter() - started
    out: dict[str, Any] = {"seconds": round(seconds, 3), "api_calls": api_calls(handle), **detail}
    print(f"{label}: {out['api_calls']['total']} API calls ({out['api_calls']['writes']} writes)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1000)
    args = parser.parse_args()
    mappings = load_mappings(DEFAULT_DIR)
    results: dict[str, Any] = {}
    with run_sandbox() as handle:
        client = ZendeskClient(
            subdomain=handle.subdomain,
            email=handle.email,
            token=handle.token,
            url=handle.base_url,
            state=MemoryStateStore(),
            poll_initial_seconds=0.05,
            poll_max_seconds=0.5,
        )

        def fresh() -> dict[str, Any]:
            return {"changes": len(apply(client, mappings, handle.base_url).applied)}

        def again() -> dict[str, Any]:
            return {"changes": len(apply(client, mappings, handle.base_url).applied)}

        results["provision_fresh_account"] = measure("provision fresh account", handle, fresh)
        results["reapply_no_changes"] = measure("re-apply (no changes)", handle, again)

        tickets = import_tickets(handle, 2 * args.tickets)
        bulk, single = tickets[: args.tickets], tickets[args.tickets :]

        def via_update_many() -> dict[str, Any]:
            report = client.update_many(
                TicketChange(t["id"], {"tags": ["bench", "bulk"]}, t["updated_at"]) for t in bulk
            )
            outcomes = [r.outcome for r in report.results]
            return {"update_many_requests": report.requests, "ok": outcomes.count("ok")}

        def one_by_one() -> dict[str, Any]:
            ok = 0
            for t in single:
                client.update_ticket(t["updated_at"], t["id"], {"tags": ["bench", "single"]})
                ok += 1
            return {"ok": ok}

        results[f"{args.tickets}_changes_update_many"] = measure(
            "update_many", handle, via_update_many
        )
        results[f"{args.tickets}_changes_one_by_one"] = measure("one by one", handle, one_by_one)

    bulk_calls = results[f"{args.tickets}_changes_update_many"]["api_calls"]["total"]
    single_calls = results[f"{args.tickets}_changes_one_by_one"]["api_calls"]["total"]
    report = {
        "command": " ".join(
            shlex.quote(a)
            for a in [".venv/bin/python", "bench/provisioning_bench.py", *sys.argv[1:]]
        ),
        "python": platform.python_version(),
        "tickets": args.tickets,
        "results": results,
        "ratio": {
            "one_by_one_calls_per_update_many_call": round(single_calls / max(bulk_calls, 1), 1),
        },
        "note": (
            "API calls counted by the sandbox; update_many calls include job-status polls. "
            "Seconds are wall time on a shared 2-core machine, for context only."
        ),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["ratio"]))
    print(f"wrote {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
