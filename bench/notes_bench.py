"""Benchmark: internal notes per 100 tickets, API calls per event and tickets that leave "New" by
cxlayer's side effect, for this branch's code beside a baseline revision's code, in one run, on
the same sandbox (this branch's, i.e. Zendesk's semantics) with the demo seed.

    .venv/bin/python bench/notes_bench.py [--tickets 100] [--seed-size 300] [--baseline REV]

Each variant gets a fresh sandbox (`python -m sandbox --seed demo`), its own database, `zendesk
apply`, and the service's real webhook path: the sandbox's triggers deliver signed webhooks to
the variant's Flask app served on loopback, and the inbox worker's `process_one` handles them.
The scripted workload, per ticket, as a help desk does it: a requester opens a ticket; an agent
asks a question publicly and sets Pending; the requester answers; an agent puts it On-hold with
an internal comment; an agent solves it with a public reply. After each step every delivered
event is processed (including those fired by cxlayer's own writes) and the API calls cxlayer
made while processing are counted by the sandbox. The baseline is `git archive REV` (default:
the merge-base with `main`, the code before issue 12) in a temporary directory.
Writes bench/results/notes.json.
"""

# The service's modules are imported inside run_variant on purpose: the code root (this branch
# or the baseline's archive) is chosen at run time.
# ruff: noqa: PLC0415

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "bench" / "results" / "notes.json"
VOCABULARY = [
    "invoice",
    "buy",
    "sheet",
    "campaign",
    "vendor",
    "spot",
    "export",
    "import",
    "approval",
    "estimate",
    "order",
    "network",
    "station",
    "daypart",
    "flight",
    "budget",
    "margin",
    "commission",
    "agency",
    "client",
    "advertiser",
    "publisher",
    "placement",
    "impression",
    "rating",
    "audience",
    "makegood",
    "preempt",
    "reconcile",
    "accrual",
    "ledger",
    "payable",
    "receivable",
    "credit",
    "debit",
    "tax",
    "currency",
    "rate",
    "card",
    "contract",
    "amendment",
    "insertion",
    "proof",
    "affidavit",
    "traffic",
    "log",
    "schedule",
    "rotation",
    "creative",
    "asset",
    "upload",
    "login",
    "password",
    "token",
    "permission",
    "role",
    "report",
    "dashboard",
    "filter",
    "column",
    "total",
    "grid",
    "timeout",
    "error",
    "crash",
    "blank",
    "slow",
    "freeze",
    "print",
    "email",
    "notification",
    "reminder",
    "queue",
    "market",
    "region",
    "quarter",
    "month",
    "week",
    "holiday",
    "calendar",
    "cutoff",
    "deadline",
    "release",
    "patch",
]
STEPS = ("requester opens", "agent asks, Pending", "requester answers", "On-hold", "solved")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_variant(code_root: Path, sandbox_url: str, tickets: int) -> dict[str, Any]:
    """Inside the subprocess whose sys.path starts with `code_root`."""
    import requests
    from werkzeug.serving import make_server

    import store
    from app import create_app
    from mappings import load_mappings
    from sync import client_for
    from sync.provisioning import apply
    from webhooks.worker import process_one

    http = requests.Session()
    http.auth = ("admin@example.com/token", "sandbox-token")
    api = sandbox_url + "/api/v2"
    port = _free_port()
    instance = Path(tempfile.mkdtemp(prefix="notes-bench-"))
    app = create_app(
        {
            "ENVIRON": {},
            "INSTANCE_PATH": str(instance),
            "SETTINGS": {
                "zendesk": {
                    "subdomain": "sandbox",
                    "url": sandbox_url,
                    "email": "admin@example.com",
                    "token": "sandbox-token",
                },
                "service": {"public_url": f"http://127.0.0.1:{port}"},
            },
        }
    )
    store.upgrade(app)
    with client_for(app) as client:
        apply(client, load_mappings(), app.config["CXLAYER"]["service"]["public_url"])
        service_id = int(client.me()["id"])
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    users = []
    page: str | None = api + "/users.json?per_page=100"
    while page:
        body = http.get(page, timeout=30).json()
        users += body["users"]
        page = body["next_page"]
    agents = [u for u in users if u["role"] == "agent"]
    requesters = [u for u in users if u["role"] == "end-user"]

    def as_user(email: str) -> requests.Session:
        session = requests.Session()
        session.headers.update(
            {"Authorization": "Bearer sandbox-oauth-token", "X-On-Behalf-Of": email}
        )
        return session

    stats = {"events": 0, "api_calls": 0, "writes": 0}

    def drain() -> None:
        http.post(sandbox_url + "/sandbox/stats/reset", timeout=10)
        idle_rounds = 0
        while idle_rounds < 2:
            http.get(sandbox_url + "/sandbox/webhooks?wait=30", timeout=40)
            handled = 0
            while process_one(app, "bench") is not None:
                handled += 1
            stats["events"] += handled
            idle_rounds = idle_rounds + 1 if handled == 0 else 0
            time.sleep(0.2)
        counted = http.get(sandbox_url + "/sandbox/stats", timeout=10).json()["endpoints"]
        calls = {k: v for k, v in counted.items() if "/api/" in k}
        stats["api_calls"] += sum(calls.values())
        stats["writes"] += sum(v for k, v in calls.items() if not k.startswith("GET "))

    ids: list[int] = []
    rng = random.Random(12)
    for i in range(tickets):
        requester = requesters[i % len(requesters)]
        # Unrelated issues (distinct words), so duplicate detection does not act on the workload.
        words = rng.sample(VOCABULARY, 12)
        made = as_user(requester["email"]).post(
            api + "/tickets.json",
            json={
                "ticket": {
                    "subject": " ".join(words[:5]).capitalize(),
                    "comment": {"body": " ".join(words).capitalize() + "."},
                }
            },
            timeout=30,
        )
        made.raise_for_status()
        ids.append(int(made.json()["ticket"]["id"]))
    drain()
    still_new = sum(
        1
        for t in ids
        if http.get(f"{api}/tickets/{t}.json", timeout=30).json()["ticket"]["status"] == "new"
    )
    steps: list[tuple[str, Any]] = [
        (
            "agent",
            {"status": "pending", "comment": {"body": "Which campaign is it?", "public": True}},
        ),
        ("requester", {"comment": {"body": "Campaign 4471, thanks.", "public": True}}),
        (
            "agent",
            {"status": "hold", "comment": {"body": "Checking with product.", "public": False}},
        ),
        (
            "agent",
            {"status": "solved", "comment": {"body": "Fixed, the totals agree.", "public": True}},
        ),
    ]
    for who, update in steps:
        for index, ticket_id in enumerate(ids):
            person = (
                agents[index % len(agents)]
                if who == "agent"
                else requesters[index % len(requesters)]
            )
            response = as_user(person["email"]).put(
                f"{api}/tickets/{ticket_id}.json", json={"ticket": update}, timeout=30
            )
            response.raise_for_status()
        drain()
    notes = 0
    public = 0
    openings: dict[str, int] = {}
    for ticket_id in ids:
        comments = http.get(f"{api}/tickets/{ticket_id}/comments.json", timeout=30).json()[
            "comments"
        ]
        for c in comments:
            if c["author_id"] == service_id and not c["public"]:
                notes += 1
                opening = " ".join(str(c["body"]).split()[:5])
                openings[opening] = openings.get(opening, 0) + 1
        public += sum(1 for c in comments if c["author_id"] == service_id and c["public"])
    server.shutdown()
    store.dispose(app)
    return {
        "tickets": tickets,
        "internal_notes": notes,
        "notes_per_100_tickets": round(100 * notes / tickets, 1),
        "public_comments_by_cxlayer": public,
        "notes_by_opening_words": dict(sorted(openings.items(), key=lambda kv: -kv[1])),
        "tickets_still_new_after_processing_creation": still_new,
        "events": stats["events"],
        "api_calls": stats["api_calls"],
        "api_writes": stats["writes"],
        "api_calls_per_event": round(stats["api_calls"] / max(1, stats["events"]), 2),
        "api_writes_per_event": round(stats["writes"] / max(1, stats["events"]), 2),
    }


def start_sandbox(seed_size: int) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(port),
            "--seed",
            "demo",
            "--seed-size",
            str(seed_size),
            "--rpm",
            "100000",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    import requests

    deadline = time.monotonic() + 120
    while True:
        try:
            requests.get(url + "/sandbox/stats", timeout=1)
            return process, url
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("sandbox did not start") from None
            time.sleep(0.2)


def variant(code_root: Path, args: argparse.Namespace) -> dict[str, Any]:
    process, url = start_sandbox(args.seed_size)
    try:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--run",
                str(code_root),
                "--sandbox",
                url,
                "--tickets",
                str(args.tickets),
            ],
            cwd=code_root,
            env={**os.environ, "PYTHONPATH": str(code_root)},
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-4000:])
        return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100)
    parser.add_argument("--seed-size", type=int, default=300)
    parser.add_argument("--baseline", default="")
    parser.add_argument("--run", default="", help=argparse.SUPPRESS)
    parser.add_argument("--sandbox", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        sys.path.insert(0, args.run)
        import logging

        logging.disable(logging.CRITICAL)
        result = run_variant(Path(args.run), args.sandbox, args.tickets)
        print(json.dumps(result))
        return
    baseline = (
        args.baseline
        or subprocess.run(
            ["git", "merge-base", "HEAD", "main"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    with tempfile.TemporaryDirectory(prefix="cxlayer-baseline-") as tmp:
        archive = subprocess.run(
            ["git", "archive", baseline], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        before = variant(Path(tmp), args)
    after = variant(ROOT, args)
    ratio = {
        key: round(after[key] / before[key], 3) if before[key] else None
        for key in ("notes_per_100_tickets", "api_calls_per_event", "api_writes_per_event")
    }
    result = {
        "command": "python bench/notes_bench.py " + shlex.join(sys.argv[1:]),
        "baseline_revision": baseline,
        "workload": list(STEPS),
        "machine": platform.platform(),
        "baseline": before,
        "this_branch": after,
        "ratio_this_branch_to_baseline": ratio,
    }
    RESULT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
