"""The demo seeder (deterministic, realistic, API-shaped) and `python -m sandbox` as a process."""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path
from typing import Any

from sandbox.core import Sandbox
from sandbox.seed import GROUPS, seed_account
from sandbox.testing import SandboxHandle, run_sandbox, run_sandbox_process, zenpy_client


def all_tickets(zd: SandboxHandle) -> list[dict[str, Any]]:
    tickets: list[dict[str, Any]] = []
    url: str | None = zd.base_url + "/api/v2/tickets.json"
    while url:
        body = zd.http.get(url, auth=zd.auth, timeout=30).json()
        tickets.extend(body["tickets"])
        url = body["next_page"]
    return tickets


def seeded(size: int, random_seed: int) -> list[dict[str, Any]]:
    """Seeded tickets without their timestamps, which are relative to the current time."""
    core = Sandbox()
    seed_account(core.account, size, random_seed)
    with core.store.tx() as db:
        rows = db.execute("SELECT doc FROM tickets ORDER BY id").fetchall()
    docs = [json.loads(r["doc"]) for r in rows]
    return [
        {
            k: v
            for k, v in d.items()
            if not k.endswith("_at") and k not in ("generated_timestamp", "_m")
        }
        for d in docs
    ]


def test_same_seed_gives_the_same_account() -> None:
    first = seeded(50, 11)
    assert first == seeded(50, 11)
    assert first != seeded(50, 12)


def test_demo_account_is_realistic(checked: Any) -> None:
    with run_sandbox(seed=400) as zd:
        tickets = all_tickets(zd)
        assert len(tickets) == 400
        assert set(Counter(t["status"] for t in tickets)) == {
            "new",
            "open",
            "pending",
            "hold",
            "solved",
            "closed",
        }
        groups = {g["name"] for g in zd.api("GET", "groups.json").json()["groups"]}
        assert set(GROUPS) <= groups
        agents = zd.api("GET", "users.json", params={"role": "agent"}).json()["users"]
        assert len(agents) >= len(GROUPS)
        assert len(zd.api("GET", "organizations.json").json()["organizations"]) >= 5
        assert any(t["email_cc_ids"] for t in tickets)
        pending_ages = {t["created_at"][:10] for t in tickets if t["status"] == "pending"}
        assert len(pending_ages) >= 5
        pairs = Counter((t["requester_id"], t["subject"]) for t in tickets)
        assert any(n > 1 for n in pairs.values())
        last_speakers = set()
        for t in [t for t in tickets if t["status"] == "pending"][:60]:
            comments = zd.api("GET", f"tickets/{t['id']}/comments.json").json()["comments"]
            public = [c for c in comments if c["public"]]
            last_speakers.add(
                "requester" if public[-1]["author_id"] == t["requester_id"] else "agent"
            )
        assert last_speakers == {"requester", "agent"}
        checked(zd.api("GET", f"tickets/{tickets[0]['id']}.json"))
        checked(zd.api("GET", f"tickets/{tickets[0]['id']}/comments.json"))


def test_seeded_tickets_have_the_shape_of_api_created_ones() -> None:
    with run_sandbox(seed=5) as zd:
        seeded = zd.api("GET", "tickets/1.json").json()["ticket"]
        made = zd.api(
            "POST", "tickets.json", json={"ticket": {"subject": "s", "comment": {"body": "b"}}}
        ).json()["ticket"]
        assert set(seeded) == set(made)
        seeded_comment = zd.api("GET", "tickets/1/comments.json").json()["comments"][0]
        made_comment = zd.api("GET", f"tickets/{made['id']}/comments.json").json()["comments"][0]
        assert set(seeded_comment) == set(made_comment)
        assert isinstance(seeded_comment["public"], bool)


def test_process_serves_a_seeded_account_and_stops_on_sigterm(tmp_path: Path) -> None:
    db = str(tmp_path / "zendesk.sqlite")
    with run_sandbox_process(seed="demo", db=db) as zd:
        client = zenpy_client(zd)
        assert client.tickets(id=1).id == 1
        assert zd.process is not None
        zd.process.send_signal(signal.SIGTERM)
        assert zd.process.wait(timeout=15) == 0
        output = zd.process.stdout.read() if zd.process.stdout else ""
    assert f"Zendesk sandbox at {zd.base_url}" in output
    assert "admin@example.com" in output
    # The file database keeps the account for the next start (and is not seeded twice).
    with run_sandbox_process(seed="demo", db=db) as again:
        count = again.api("GET", "search/count.json", params={"query": "type:ticket"}).json()[
            "count"
        ]
        assert count == 300
