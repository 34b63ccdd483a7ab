"""Safe updates and bulk updates through jobs, against the sandbox."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from sandbox.testing import SandboxHandle
from sync import RateLimitBudgetExhausted, TicketChange, TicketConflict, ZendeskClient
from sync.client import DEFAULT_JOBS_IN_FLIGHT, ZENDESK_JOB_LIMIT, next_poll_delay
from sync.http import Policy

from .conftest import make_ticket


def _import_tickets(zd: SandboxHandle, count: int) -> list[dict[str, Any]]:
    """Many tickets quickly (imports fire no triggers and skip per-ticket rate limits)."""
    for start in range(0, count, 100):
        batch = [
            {"subject": f"t{i}", "description": "d", "requester_id": 1000001}
            for i in range(start, min(count, start + 100))
        ]
        job = zd.api("POST", "imports/tickets/create_many.json", json={"tickets": batch})
        assert zd.wait_job(job.json()["job_status"]["id"])["status"] == "completed"
    tickets: list[dict[str, Any]] = []
    url: str | None = zd.base_url + "/api/v2/tickets.json?per_page=100"
    while url:
        page = zd.http.get(url, auth=zd.auth, timeout=30).json()
        tickets += page["tickets"]
        url = page["next_page"]
    return tickets


def test_update_ticket_is_a_safe_update_that_returns_the_new_stamp(
    client: ZendeskClient, zd: SandboxHandle
) -> None:
    ticket = make_ticket(zd)
    after = client.update_ticket(ticket["updated_at"], ticket["id"], {"tags": ["one"]})
    assert after["tags"] == ["one"]
    assert after["updated_at"] != ticket["updated_at"]
    # The old stamp is now stale: the same write would overwrite someone else's change.
    with pytest.raises(TicketConflict) as caught:
        client.update_ticket(ticket["updated_at"], ticket["id"], {"tags": ["two"]})
    assert caught.value.ticket_id == ticket["id"]
    assert zd.stats()["statuses"]["409"] == 1
    assert client.ticket(ticket["id"])["tags"] == ["one"]


def test_a_safe_update_losing_a_race_to_an_agent_surfaces_a_conflict_and_is_not_retried(
    client: ZendeskClient, zd: SandboxHandle
) -> None:
    ticket = make_ticket(zd)
    snapshot = client.read_snapshot(ticket["id"])
    zd.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"priority": "high"}})
    zd.reset_stats()
    with pytest.raises(TicketConflict):
        client.update_ticket(snapshot.updated_stamp, ticket["id"], {"priority": "low"})
    assert zd.stats()["endpoints"] == {"PUT /api/v2/tickets/<int:ticket_id>": 1}
    assert client.ticket(ticket["id"])["priority"] == "high"


def test_250_ticket_changes_go_out_as_3_update_many_calls_with_a_result_per_ticket(
    client: ZendeskClient, zd: SandboxHandle
) -> None:
    tickets = _import_tickets(zd, 250)
    stale = {tickets[5]["id"], tickets[130]["id"]}
    for ticket_id in stale:  # someone else changes these after we read them
        zd.api("PUT", f"tickets/{ticket_id}.json", json={"ticket": {"priority": "high"}})
    zd.reset_stats()
    changes = [
        TicketChange(t["id"], {"tags": ["bulk", f"n{t['id']}"]}, t["updated_at"]) for t in tickets
    ]
    report = client.update_many(changes)
    assert report.requests == 3
    assert zd.stats()["endpoints"]["PUT /api/v2/tickets/update_many"] == 3
    assert [r.ticket_id for r in report.results] == [t["id"] for t in tickets]
    conflicts = {r.ticket_id for r in report.results if r.outcome == "conflict"}
    assert conflicts == stale
    assert all(r.outcome == "ok" for r in report.results if r.ticket_id not in stale)
    detail = next(r for r in report.results if r.outcome == "conflict")
    assert detail.error == "UpdateConflict" and "Safe Update" in detail.details
    fresh = {t["id"]: t for t in client.show_many(t["id"] for t in tickets)}
    assert all(fresh[i]["tags"] == ["bulk", f"n{i}"] for i in fresh if i not in stale)
    assert all(fresh[i]["priority"] == "high" and "bulk" not in fresh[i]["tags"] for i in stale)


def test_identical_stamp_free_changes_use_the_ids_form(
    client: ZendeskClient, zd: SandboxHandle
) -> None:
    """Whole `?ids=` requests of 100 for identical stamp-free changes; their remainder shares
    per-ticket requests with the other changes, so 150 identical + 50 own = 2 requests."""
    tickets = _import_tickets(zd, 200)
    same, own = tickets[:150], tickets[150:]
    zd.reset_stats()
    report = client.update_many(
        [TicketChange(t["id"], {"additional_tags": ["swept"]}) for t in same]
        + [TicketChange(t["id"], {"additional_tags": [f"own{t['id']}"]}) for t in own]
    )
    assert report.requests == 2  # was 3: 100 ids, 50 ids, 50 per-ticket
    assert {r.outcome for r in report.results} == {"ok"}
    assert zd.stats()["endpoints"]["PUT /api/v2/tickets/update_many"] == 2
    fresh = {t["id"]: t for t in client.show_many(t["id"] for t in tickets)}
    assert all("swept" in fresh[t["id"]]["tags"] for t in same)
    assert all(f"own{t['id']}" in fresh[t["id"]]["tags"] for t in own)


def test_per_ticket_failures_in_a_job_are_reported_individually(
    client: ZendeskClient, zd: SandboxHandle
) -> None:
    tickets = _import_tickets(zd, 3)
    changes = [
        TicketChange(tickets[0]["id"], {"priority": "low"}, tickets[0]["updated_at"]),
        TicketChange(tickets[1]["id"], {"priority": "bogus"}, tickets[1]["updated_at"]),
        TicketChange(999999, {"priority": "low"}, "2020-01-01T00:00:00Z"),
    ]
    results = client.update_many(changes).results
    assert [r.outcome for r in results] == ["ok", "error", "error"]
    assert "bogus" in results[1].details
    assert results[2].error == "RecordNotFound"


def test_the_job_limit_is_respected_and_jobs_are_polled_together(
    make_client: Callable[..., ZendeskClient], zd: SandboxHandle
) -> None:
    """With 3 jobs allowed in flight, 5 batches: 3 are submitted, then polled until done."""
    client = make_client(jobs_in_flight=3)
    tickets = _import_tickets(zd, 500)
    zd.reset_stats()
    zd.pause_jobs(True)
    changes = [TicketChange(t["id"], {"tags": ["x"]}, t["updated_at"]) for t in tickets]
    outcome: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: outcome.update(r=client.update_many(changes)))
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while zd.stats()["endpoints"].get("GET /api/v2/job_statuses/show_many", 0) < 3:
            assert time.monotonic() < deadline, "the client never polled"
            time.sleep(0.02)
        # Jobs are held queued: the client must be waiting, not submitting more.
        assert zd.stats()["endpoints"]["PUT /api/v2/tickets/update_many"] == 3
    finally:
        zd.pause_jobs(False)
        worker.join(timeout=60)
    stats = zd.stats()
    assert stats["endpoints"]["PUT /api/v2/tickets/update_many"] == 5
    assert "429" not in stats["statuses"]
    assert {r.outcome for r in outcome["r"].results} == {"ok"}


def test_jobs_in_flight_stays_below_zendesks_limit() -> None:
    assert DEFAULT_JOBS_IN_FLIGHT == 25 < ZENDESK_JOB_LIMIT == 30
    client = ZendeskClient(subdomain="x", email="a@b.c", token="t", jobs_in_flight=100)
    assert client.jobs_in_flight == ZENDESK_JOB_LIMIT


def test_update_many_stopped_by_the_wait_cap_says_what_was_not_sent(
    make_client: Callable[..., ZendeskClient], zd: SandboxHandle
) -> None:
    """Other integrations hold all 30 job slots: Zendesk answers 429 (Retry-After 10), which is
    past a 1 s cap, so the operation stops resumably instead of hanging."""
    client = make_client(policy=Policy(max_wait_seconds=1))
    tickets = _import_tickets(zd, 2)
    zd.pause_jobs(True)
    try:
        for _ in range(ZENDESK_JOB_LIMIT):
            zd.api(
                "PUT",
                f"tickets/update_many.json?ids={tickets[0]['id']}",
                json={"ticket": {"additional_tags": ["other"]}},
            ).raise_for_status()
        with pytest.raises(RateLimitBudgetExhausted) as caught:
            client.update_many(
                TicketChange(t["id"], {"priority": "low"}, t["updated_at"]) for t in tickets
            )
    finally:
        zd.pause_jobs(False)
    assert caught.value.operation == "update_many"
    assert caught.value.done == {
        "results": [],
        "in_flight_jobs": [],
        "not_sent": [t["id"] for t in tickets],
    }


def test_a_ticket_listed_twice_is_refused_before_anything_is_sent(
    client: ZendeskClient, zd: SandboxHandle
) -> None:
    ticket = make_ticket(zd)
    zd.reset_stats()
    with pytest.raises(ValueError, match="appears twice"):
        client.update_many(
            [
                TicketChange(ticket["id"], {"priority": "low"}, ticket["updated_at"]),
                TicketChange(ticket["id"], {"tags": ["x"]}, ticket["updated_at"]),
            ]
        )
    assert zd.stats()["total"] == 0


def test_a_refused_batch_fails_its_tickets_and_the_other_batches_go_on(
    make_client: Callable[..., ZendeskClient], zd: SandboxHandle
) -> None:
    # Injected answers claim an empty rate budget (a sandbox quirk): fake the waiting.
    client = make_client(sleep=lambda _s: None)
    tickets = _import_tickets(zd, 150)
    zd.set_faults(status=422, error_rate=0.5, random_seed=1, paths=["/api/v2/tickets/update_many"])
    report = client.update_many(
        TicketChange(t["id"], {"tags": ["y"]}, t["updated_at"]) for t in tickets
    )
    zd.clear_faults()
    outcomes = [r.outcome for r in report.results]
    assert outcomes == ["error"] * 100 + ["ok"] * 50
    assert report.results[0].error and "422" in report.results[0].details


def test_a_job_that_never_finishes_gives_its_tickets_an_unknown_outcome(
    make_client: Callable[..., ZendeskClient], zd: SandboxHandle
) -> None:
    client = make_client(job_timeout_seconds=0.3)
    tickets = _import_tickets(zd, 2)
    zd.pause_jobs(True)
    try:
        report = client.update_many(
            TicketChange(t["id"], {"priority": "low"}, t["updated_at"]) for t in tickets
        )
    finally:
        zd.pause_jobs(False)
    assert [(r.outcome, r.error) for r in report.results] == [("error", "JobTimeout")] * 2
    assert "outcome unknown" in report.results[0].details


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        # batches still wait for a slot: poll soon, to submit them
        ({"waiting": 2, "in_flight": 20, "completed": 5, "elapsed": 5.0}, 0.5),
        # all submitted: 20 left at 1 s a job → when they should be done
        ({"waiting": 0, "in_flight": 20, "completed": 5, "elapsed": 5.0}, 20.0),
        # never more than the maximum, never less than the initial delay
        ({"waiting": 0, "in_flight": 24, "completed": 1, "elapsed": 10.0}, 60.0),
        ({"waiting": 0, "in_flight": 1, "completed": 24, "elapsed": 2.4}, 0.5),
        # nothing left, or no rate known yet
        ({"waiting": 0, "in_flight": 0, "completed": 25, "elapsed": 30.0}, 0.5),
        ({"waiting": 0, "in_flight": 25, "completed": 0, "elapsed": 3.0}, 0.5),
    ],
)
def test_next_poll_waits_for_the_expected_end_of_the_jobs_in_flight(
    facts: dict[str, Any], expected: float
) -> None:
    """A long bulk write costs a few job polls, not one every initial delay."""
    assert next_poll_delay(initial=0.5, maximum=60.0, **facts) == pytest.approx(expected)
