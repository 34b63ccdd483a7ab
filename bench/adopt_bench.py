"""Benchmark: API calls per adopted ticket. `zendesk adopt` on a seeded account (the demo seed:
unsolved tickets on Zendesk's generic statuses) beside the per-ticket path on an identical
account: each of the same tickets brought in line by the event handler as one status-changed
event would (read, decide, one safe update), all counted by the sandbox in one run.
Writes bench/results/adopt.json.

    .venv/bin/python bench/adopt_bench.py [--seed-size 1000]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import store  # noqa: E402 - after the path set-up
from app import create_app  # noqa: E402
from mappings import load_mappings  # noqa: E402
from onboarding.adopt import adopt  # noqa: E402
from sandbox.testing import SandboxHandle, run_sandbox  # noqa: E402
from sync import client_for  # noqa: E402
from sync.provisioning import apply  # noqa: E402
from triggers.model import STATUS_CHANGED  # noqa: E402
from webhooks import inbox  # noqa: E402
from webhooks.handler import handle_event  # noqa: E402

RESULT = ROOT / "bench" / "results" / "adopt.json"


def api_calls(handle: SandboxHandle) -> dict[str, int]:
    endpoints = {k: v for k, v in handle.stats()["endpoints"].items() if "/api/" in k}
    return {
        "total": sum(endpoints.values()),
        "writes": sum(v for k, v in endpoints.items() if not k.startswith("GET ")),
    }


def account(handle: SandboxHandle, instance: Path) -> Any:
    app = create_app(
        {
            "ENVIRON": {},
            "INSTANCE_PATH": str(instance),
            "SETTINGS": {
                "zendesk": {
                    "subdomain": "sandbox",
                    "url": handle.base_url,
                    "email": handle.email,
                    "token": handle.token,
                },
                "service": {"public_url": handle.base_url + "/nowhere"},
            },
        }
    )
    store.upgrade(app)
    with client_for(app) as client:
        apply(client, load_mappings(), handle.base_url + "/nowhere")
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-size", type=int, default=1000)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        with run_sandbox(seed=args.seed_size) as handle:
            app = account(handle, Path(tmp) / "a")
            handle.reset_stats()
            started = time.perf_counter()
            outcome = adopt(app)
            seconds = time.perf_counter() - started
            calls = api_calls(handle)
            changed = outcome.count("changed")
            results["adopt"] = {
                "tickets_listed": outcome.listed,
                "tickets_changed": changed,
                "api_calls": calls["total"],
                "update_many_calls": calls["writes"],
                "ceil_changed_over_100": math.ceil(changed / 100),
                "api_calls_per_adopted_ticket": round(calls["total"] / max(1, changed), 3),
                "seconds": round(seconds, 2),
            }
            ids = [o.ticket_id for o in outcome.outcomes if o.action == "changed"]
            store.dispose(app)
        with run_sandbox(seed=args.seed_size) as handle:
            app = account(handle, Path(tmp) / "b")
            handle.reset_stats()
            started = time.perf_counter()
            for ticket_id in ids:
                with store.session(app) as session:
                    event_id = inbox.add_event(
                        session,
                        invocation_id=f"bench-{ticket_id}",
                        webhook_id="bench",
                        data={
                            "event": STATUS_CHANGED,
                            "ticket_id": ticket_id,
                            "current_user_id": 1,
                        },
                        payload={},
                    )
                    event = session.get(store.InboxEvent, event_id)
                handle_event(app, event)
            seconds = time.perf_counter() - started
            calls = api_calls(handle)
            results["per_ticket_events"] = {
                "tickets": len(ids),
                "api_calls": calls["total"],
                "writes": calls["writes"],
                "api_calls_per_ticket": round(calls["total"] / max(1, len(ids)), 3),
                "seconds": round(seconds, 2),
            }
            store.dispose(app)
    ratio = results["per_ticket_events"]["api_calls"] / max(1, results["adopt"]["api_calls"])
    report = {
        "command": "python bench/adopt_bench.py " + shlex.join(sys.argv[1:]),
        "machine": platform.platform(),
        "seed_size": args.seed_size,
        **results,
        "per_ticket_calls_over_adopt_calls": round(ratio, 1),
    }
    RESULT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
