"""Auto-solve sweep benchmark: API calls per 1,000 tickets solved and wall time, beside a naive
one-ticket-at-a-time zenpy loop, against the sandbox (a real `python -m sandbox` process).

    .venv/bin/python bench/autosolve_bench.py --tickets 10000 --due-share 0.3 [--rpm 700]

Per scenario, a fresh sandbox process and a fresh SQLite database; `--tickets` pending tickets
awaiting the requester, `--due-share` of them past solve_after (agent asked 15 calendar days
before the run), `--remind-share` (default 0) asked `remind_after` business days before it
(due a reminder), the rest asked an hour before the run (not yet due). Setup (imports, the
provisioning apply) runs at a high rate limit and is not measured; the limit is then set to
`--rpm` for the measured part.

Scenarios:
- `nightly`: the steady state. Earlier nights already set each ticket's "Auto-solve due" date
  (and the reminder), and the who-spoke-last table is current (webhook events keep it during the
  day; here one catch-up before the run stands in for them). The sweep lists, reads the events
  since its cursor, and solves the due share.
- `first`: the first run after deployment: empty local table (the whole ticket-events export is
  read), and every not-yet-due ticket gets its "Auto-solve due" date written.

The naive loop (same sandbox process, its own `--naive-tickets` tickets with the same due
share): zenpy search export to list, one comments request per ticket to see who spoke last, one
`tickets.update` per due ticket.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402

import store  # noqa: E402
from app import create_app  # noqa: E402
from autosolve.sweep import catch_up_comments, run_sweep  # noqa: E402
from mappings import DEFAULT_DIR, load_mappings  # noqa: E402
from sandbox.testing import SandboxHandle, run_sandbox_process, zenpy_client  # noqa: E402
from sync import DbStateStore, ZendeskClient  # noqa: E402
from sync.provisioning import apply  # noqa: E402
from sync.snapshot import Provisioned  # noqa: E402
from triggers.autosolve import TAG_REMINDED, TAG_SOLVED  # noqa: E402
from triggers.business_days import add_business_days, business_days_between  # noqa: E402

SETUP_RPM = 1_000_000
REQUESTERS = 50


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _post(zd: SandboxHandle, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = zd.api("POST", path, json=body)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


class Account:
    """A provisioned sandbox account with an agent and a few requesters."""

    def __init__(self, zd: SandboxHandle, app: Flask) -> None:
        self.zd = zd
        self.app = app
        self.mappings = load_mappings(DEFAULT_DIR)
        self.client = self.make_client()
        apply(self.client, self.mappings, zd.base_url)
        self.provisioned = Provisioned.load(self.client)
        self.group_id = next(
            int(g["id"]) for g in self.client.groups(refresh=True) if g["name"] == "All Media"
        )
        self.team = self.mappings.team_for_group("All Media")
        self.agent_id = int(
            _post(
                zd,
                "users.json",
                {"user": {"name": "Agent", "email": "a@mo.example", "role": "agent"}},
            )["user"]["id"]
        )
        self.requesters = [
            int(
                _post(
                    zd,
                    "users.json",
                    {
                        "user": {
                            "name": f"R{i}",
                            "email": f"r{i}@client.example",
                            "role": "end-user",
                        }
                    },
                )["user"]["id"]
            )
            for i in range(REQUESTERS)
        ]

    def make_client(self) -> ZendeskClient:
        return ZendeskClient.from_settings(
            self.app.config["CXLAYER"], DbStateStore(self.app), mappings=load_mappings(DEFAULT_DIR)
        )

    def import_tickets(
        self,
        count: int,
        due_share: float,
        now: datetime,
        *,
        preset: bool,
        tag: str,
        remind_share: float = 0.0,
    ) -> int:
        """`count` awaiting tickets, the first `due_share` of them due a solve, the next
        `remind_share` due a reminder (asked `remind_after` business days ago), the rest asked
        an hour ago; returns how many are due a solve."""
        due_count = round(count * due_share)
        remind_end = due_count + round(count * remind_share)
        remind_asked = self.remind_moment(now)
        awaiting = self.provisioned.status_id("awaiting_reply")
        due_field = self.provisioned.field_id("auto_solve_due")
        batch: list[dict[str, Any]] = []
        jobs: list[str] = []
        for index in range(count):
            due = index < due_count
            # One second apart per ticket, as real traffic is: the events export pages by
            # time, and a thousand events in one second would not page on.
            if due:
                asked = now - timedelta(days=15)
            elif index < remind_end:
                asked = remind_asked
            else:
                asked = now - timedelta(hours=1)
            asked -= timedelta(seconds=index)
            opened = asked - timedelta(days=1)
            requester = self.requesters[index % REQUESTERS]
            ticket: dict[str, Any] = {
                "subject": f"bench {tag} {index}",
                "requester_id": requester,
                "assignee_id": self.agent_id,
                "group_id": self.group_id,
                "custom_status_id": awaiting,
                "created_at": _iso(opened),
                "tags": [tag] if tag != "naive" else [tag, "no_autosolve"],
                "comments": [
                    {"author_id": requester, "created_at": _iso(opened), "body": "Help please"},
                    {"author_id": self.agent_id, "created_at": _iso(asked), "body": "Which plan?"},
                ],
            }
            if preset:
                solve_on: date = add_business_days(self.team, asked, 5)
                ticket["custom_fields"] = [{"id": due_field, "value": solve_on.isoformat()}]
                if due:
                    ticket["tags"] = [*ticket["tags"], TAG_REMINDED]
            batch.append(ticket)
            if len(batch) == 100:
                if len(jobs) >= 25:  # the account allows 30 queued or running jobs
                    self.zd.wait_job(jobs.pop(0), timeout=600)
                jobs.append(self._import(batch))
                batch = []
        if batch:
            jobs.append(self._import(batch))
        for job in jobs:
            self.zd.wait_job(job, timeout=600)
        return due_count

    def remind_moment(self, now: datetime) -> datetime:
        """The latest time (whole hours back from `now`) at which an agent's question is
        exactly `remind_after` (3) business days old at `now`: due a reminder, not a solve."""
        asked = now.replace(minute=0, second=0) - timedelta(hours=1)
        while business_days_between(self.team, asked, now) < 3:
            asked -= timedelta(hours=1)
        return asked

    def _import(self, tickets: list[dict[str, Any]]) -> str:
        answer = _post(self.zd, "imports/tickets/create_many.json", {"tickets": tickets})
        return str(answer["job_status"]["id"])


def _app(folder: Path, zd: SandboxHandle, tickets: int) -> Flask:
    settings = {
        "zendesk": {
            "subdomain": zd.subdomain,
            "url": zd.base_url,
            "email": zd.email,
            "token": zd.token,
        },
        "service": {"public_url": zd.base_url},
        "database": {"url": f"sqlite:///{folder / 'bench.sqlite3'}"},
        "logging": {"level": "WARNING"},
        # A typical night: not the one night a week that lists every awaiting ticket.
        "sweep": {"max_tickets": tickets * 2, "max_api_calls": 1_000_000, "full_listing_day": ""},
    }
    app = create_app({"ENVIRON": {}, "SETTINGS": settings, "INSTANCE_PATH": str(folder)})
    store.upgrade(app)
    return app


def _solved_count(zd: SandboxHandle, tag: str) -> int:
    response = zd.api(
        "GET", "search/count.json", params={"query": f"type:ticket status:solved tags:{tag}"}
    )
    response.raise_for_status()
    return int(response.json()["count"])


def naive_loop(zd: SandboxHandle, account: Account, tag: str, now: datetime) -> dict[str, Any]:
    """List, then per ticket read comments and, when due, update it: one request at a time."""
    zenpy = zenpy_client(zd)
    resolution_field = account.provisioned.field_id("resolution_type")
    solved_status = account.provisioned.status_id("solved")
    zd.reset_stats()
    started = time.monotonic()
    listed = list(zenpy.search_export(type="ticket", status="pending", tags=tag))
    solved = 0
    for ticket in listed:
        comments = list(zenpy.tickets.comments(ticket=ticket.id))
        public = [c for c in comments if c.public]
        last = public[-1] if public else None
        if last is None or last.author_id != account.agent_id:
            continue
        asked = datetime.fromisoformat(str(last.created_at).replace("Z", "+00:00"))
        if now - asked < timedelta(days=7):
            continue
        ticket.custom_status_id = solved_status
        ticket.custom_fields = [{"id": resolution_field, "value": "mo_res_auto_solved_no_response"}]
        ticket.tags = [*ticket.tags, TAG_SOLVED]
        ticket.comment = {"body": "Solved: no reply.", "public": True}
        zenpy.tickets.update(ticket)
        solved += 1
    wall = time.monotonic() - started
    calls = sum(v for k, v in zd.stats()["endpoints"].items() if "/api/" in k)
    return {
        "tickets": len(listed),
        "solved": solved,
        "api_calls": calls,
        "api_calls_per_1000_solved": round(calls * 1000 / solved, 1) if solved else None,
        "wall_seconds": round(wall, 2),
        "seconds_per_1000_solved": round(wall * 1000 / solved, 1) if solved else None,
    }


def scenario(name: str, args: argparse.Namespace) -> dict[str, Any]:
    preset = name == "nightly"
    with tempfile.TemporaryDirectory() as tmp, run_sandbox_process(rpm=SETUP_RPM) as zd:
        folder = Path(tmp)
        app = _app(folder, zd, args.tickets)
        account = Account(zd, app)
        now = datetime.now(UTC).replace(microsecond=0)
        t0 = time.monotonic()
        due = account.import_tickets(
            args.tickets,
            args.due_share,
            now,
            preset=preset,
            tag="sweep",
            remind_share=args.remind_share,
        )
        naive_due = 0
        if args.naive_tickets and name == "nightly":
            naive_due = account.import_tickets(
                args.naive_tickets, args.due_share, now, preset=False, tag="naive"
            )  # tagged no_autosolve below so the sweep's query leaves them to the naive loop
        setup_seconds = time.monotonic() - t0
        if preset:
            # Stand-in for the webhook events that keep the table current during the day.
            client = account.make_client()
            catch_up_comments(app, client, persist=True, service_ids=frozenset({client.me()["id"]}))
        zd.set_limits(rpm=args.rpm)
        time.sleep(61)  # let the setup's burst leave the sandbox's one-minute window
        zd.reset_stats()
        started = time.monotonic()
        result = run_sweep(app, report_path=folder / "report.json")
        wall = time.monotonic() - started
        stats = zd.stats()
        solved = result.report["totals"]["solve"]
        calls = int(result.report["api_calls"])
        out: dict[str, Any] = {
            "scenario": name,
            "tickets": args.tickets,
            "due": due,
            "solved": solved,
            "solved_in_zendesk": _solved_count(zd, "sweep"),
            "totals": result.report["totals"],
            "api_calls": calls,
            # The sandbox's own count; its total also holds webhook deliveries to itself.
            "api_calls_sandbox_count": sum(
                v for k, v in stats["endpoints"].items() if "/api/" in k
            ),
            "api_calls_per_1000_solved": round(calls * 1000 / solved, 1) if solved else None,
            "api_calls_per_1000_examined": result.report["api_calls_per_1000_examined"],
            "api_calls_per_1000_changed": result.report["api_calls_per_1000_changed"],
            "wall_seconds": round(wall, 2),
            "seconds_per_1000_solved": round(wall * 1000 / solved, 1) if solved else None,
            "endpoints": {k: v for k, v in sorted(stats["endpoints"].items()) if "/api/" in k},
            # Answered statuses (a 429 would show here). They also count the sandbox's own
            # trigger webhooks, delivered to its own address (the bench's service URL) and
            # answered 401; those are not API calls and are left out of `endpoints`.
            "statuses": stats["statuses"],
            "setup_seconds": round(setup_seconds, 1),
        }
        if naive_due:
            out["naive"] = {**naive_loop(zd, account, "naive", now), "due": naive_due}
            naive = out["naive"]
            if naive["api_calls_per_1000_solved"] and out["api_calls_per_1000_solved"]:
                out["calls_ratio_naive_over_sweep"] = round(
                    naive["api_calls_per_1000_solved"] / out["api_calls_per_1000_solved"], 1
                )
            if naive["seconds_per_1000_solved"] and out["seconds_per_1000_solved"]:
                out["time_ratio_naive_over_sweep"] = round(
                    naive["seconds_per_1000_solved"] / out["seconds_per_1000_solved"], 1
                )
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--due-share", type=float, default=0.3)
    parser.add_argument(
        "--remind-share",
        type=float,
        default=0.0,
        help="share due a reminder (a night with reminders and solves, as in a steady state)",
    )
    parser.add_argument("--rpm", type=int, default=700, help="sandbox rate limit when measuring")
    parser.add_argument("--naive-tickets", type=int, default=1000)
    parser.add_argument("--scenario", choices=("nightly", "first", "both"), default="both")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "autosolve.json"))
    parser.add_argument("--append", action="store_true", help="add to the runs already in --out")
    args = parser.parse_args(argv)
    names = ["nightly", "first"] if args.scenario == "both" else [args.scenario]
    runs = [scenario(name, args) for name in names]
    out = Path(args.out)
    previous: list[Any] = []
    if args.append and out.exists():
        previous = json.loads(out.read_text()).get("runs", [])
    command = "bench/autosolve_bench.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    for run in runs:
        run["command"] = ".venv/bin/python " + command
        run["rpm"] = args.rpm
        run["due_share"] = args.due_share
        run["remind_share"] = args.remind_share
    document = {
        "benchmark": "auto-solve sweep vs naive zenpy loop on the sandbox",
        "target": "at most 15 API calls per 1,000 tickets solved",
        "machine": f"{platform.machine()} {platform.python_version()}, 2 shared cores",
        "runs": previous + runs,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
