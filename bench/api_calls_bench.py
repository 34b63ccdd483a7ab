"""Benchmark: Zendesk API calls per webhook event, by kind, counted by the sandbox in one run,
the service as it is against two baselines run side by side:

- "uncached": every event's client built without the per-process cache of account lists
  (groups, custom statuses, ticket fields), so each event lists the groups again;
- "every_status_change": the comments (and their authors' roles) read on every status change
  not made by cxlayer, as the handler did after issue 14, whatever the ticket's state;
- "now": the service's default: cached lists, and comments on a status change only where the
  auto-solve clock's decision can depend on them (`triggers.autosolve.clock_reads_comments`).

Writes bench/results/api_calls.json.

    .venv/bin/python bench/api_calls_bench.py [--tickets 10]

Each event goes through the real handler (read the ticket now, rules and deciders, one safe
update, audit); the sandbox counts every request it answers.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import store  # noqa: E402 - after the path set-up
from app import create_app  # noqa: E402
from mappings import load_mappings  # noqa: E402
from sandbox.testing import SandboxHandle, run_sandbox  # noqa: E402
from sync import FACTORY_EXTENSION, DbStateStore, ZendeskClient, client_for  # noqa: E402
from sync.provisioning import apply  # noqa: E402
from triggers.model import (  # noqa: E402
    COMMENT_ADDED,
    STATUS_CHANGED,
    TICKET_CREATED,
    TicketEvent,
    TicketSnapshot,
)
from webhooks import inbox  # noqa: E402
from webhooks.handler import COMMENTS_NEED_EXTENSION, handle_event  # noqa: E402

RESULT = ROOT / "bench" / "results" / "api_calls.json"
AGENT = "bench.agent@mediaocean.example"
MODES = ("uncached", "every_status_change", "now")


def _as_agent(zd: SandboxHandle, method: str, path: str, body: dict[str, Any]) -> Any:
    headers = {"Authorization": f"Bearer {zd.oauth_token}", "X-On-Behalf-Of": AGENT}
    response = requests.request(method, zd.base_url + path, json=body, headers=headers, timeout=30)
    response.raise_for_status()
    return response.json()


def _handle(app: Any, ticket_id: int, kind: str, actor: int, payload: dict[str, Any]) -> None:
    with store.session(app) as session:
        event_id = inbox.add_event(
            session,
            invocation_id=str(uuid.uuid4()),
            webhook_id="bench",
            data={"event": kind, "ticket_id": ticket_id, "current_user_id": actor},
            payload=payload,
        )
        event = session.get(store.InboxEvent, event_id)
    assert event is not None
    handle_event(app, event)


def run_mode(app: Any, zd: SandboxHandle, tickets: int, agent_id: int, service_id: int) -> Any:
    statuses = zd.api("GET", "/api/v2/custom_statuses.json").json()["custom_statuses"]

    def status(label: str) -> int:
        return int(next(s["id"] for s in statuses if s["agent_label"] == label))

    on_hold, awaiting = status("On-hold"), status("Awaiting requester reply")
    open_cx, open_product = status("Open – with CX"), status("Open – with product/development")
    calls: dict[str, list[int]] = {}
    endpoints: dict[str, Counter[str]] = {}

    def measured(label: str, ticket_id: int, kind: str, actor: int, **payload: Any) -> None:
        zd.reset_stats()
        _handle(app, ticket_id, kind, actor, payload)
        counted = {k: v for k, v in zd.stats()["endpoints"].items() if "/api/" in k}
        calls.setdefault(label, []).append(sum(counted.values()))
        endpoints.setdefault(label, Counter()).update(counted)

    def agent_update(ticket_id: int, ticket: dict[str, Any]) -> None:
        _as_agent(zd, "PUT", f"/api/v2/tickets/{ticket_id}.json", {"ticket": ticket})

    for i in range(tickets):
        ticket = _as_agent(
            zd,
            "POST",
            "/api/v2/tickets.json",
            {"ticket": {"subject": f"Export {i} stuck", "comment": {"body": f"Run {i} hangs."}}},
        )["ticket"]
        tid = int(ticket["id"])
        measured("ticket_created", tid, TICKET_CREATED, agent_id)
        agent_update(tid, {"custom_status_id": on_hold})
        # Status mapping puts "Open – with product/development": no clock runs.
        measured("status_changed (rule acts)", tid, STATUS_CHANGED, agent_id, status="hold")
        measured("status_changed by cxlayer", tid, STATUS_CHANGED, service_id, status="hold")
        agent_update(tid, {"comment": {"body": "Looking into it.", "public": True}})
        measured("comment_added (agent, public)", tid, COMMENT_ADDED, agent_id)
        agent_update(
            tid,
            {"custom_status_id": awaiting, "comment": {"body": "Fixed?", "public": True}},
        )
        # The clock starts: "Auto-solve due" shown, with the note (comments needed).
        measured("status_changed to Awaiting (clock starts)", tid, STATUS_CHANGED, agent_id)
        agent_update(tid, {"custom_status_id": open_cx})
        # The clock stops: "Auto-solve due" cleared (comments needed: was a reply the cause?).
        measured("status_changed to Open (clock stops)", tid, STATUS_CHANGED, agent_id)
        agent_update(tid, {"custom_status_id": open_product})
        # Neither status is the clock's and no date is shown: nothing for the clock.
        measured("status_changed Open to Open (no clock)", tid, STATUS_CHANGED, agent_id)
    return {
        label: {
            "events": len(values),
            "calls_per_event": round(sum(values) / len(values), 2),
            "endpoints_per_event": {
                k: round(v / len(values), 2) for k, v in sorted(endpoints[label].items())
            },
        }
        for label, values in calls.items()
    }


def every_status_change(_app: Any, _snapshot: TicketSnapshot, event: TicketEvent) -> bool:
    """Issue 14's rule: comments on every status change not made by cxlayer."""
    return event.kind == STATUS_CHANGED and not event.by_service


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10)
    args = parser.parse_args()
    mappings = load_mappings()
    results: dict[str, Any] = {}
    with run_sandbox() as zd, tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "ENVIRON": {},
                "INSTANCE_PATH": tmp,
                "SETTINGS": {
                    "zendesk": {
                        "subdomain": zd.subdomain,
                        "url": zd.base_url,
                        "email": zd.email,
                        "token": zd.token,
                    },
                    "service": {"public_url": zd.base_url + "/nowhere"},
                },
            }
        )
        store.upgrade(app)
        with client_for(app) as client:
            apply(client, mappings, app.config["CXLAYER"]["service"]["public_url"])
        agent = zd.api(
            "POST",
            "/api/v2/users.json",
            json={"user": {"name": "Bench", "email": AGENT, "role": "agent"}},
        ).json()["user"]
        with store.session(app, readonly=True) as sess:
            service_id = int(store.get_state(sess, store.SERVICE_USER_ID))

        def uncached(a: Any) -> ZendeskClient:  # every event lists the account again
            return ZendeskClient.from_settings(
                a.config["CXLAYER"], DbStateStore(a), mappings=mappings
            )

        app.extensions[FACTORY_EXTENSION] = uncached
        results["uncached"] = run_mode(app, zd, args.tickets, int(agent["id"]), service_id)
        del app.extensions[FACTORY_EXTENSION]
        needs = app.extensions[COMMENTS_NEED_EXTENSION]
        needs.append(every_status_change)
        results["every_status_change"] = run_mode(
            app, zd, args.tickets, int(agent["id"]), service_id
        )
        needs.remove(every_status_change)
        results["now"] = run_mode(app, zd, args.tickets, int(agent["id"]), service_id)
        store.dispose(app)
    print(f"{'calls per event':42s} {'uncached':>9s} {'every_status_change':>20s} {'now':>6s}")
    for label in results["now"]:
        u, e, n = (results[mode][label]["calls_per_event"] for mode in MODES)
        print(f"{label:42s} {u:9.2f} {e:20.2f} {n:6.2f}")
    output = {
        "command": "python " + shlex.join(["bench/api_calls_bench.py", *sys.argv[1:]]),
        "python": platform.python_version(),
        "tickets_per_mode": args.tickets,
        "results": results,
    }
    RESULT.write_text(json.dumps(output, indent=2) + "\n")
    print(f"written to {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
