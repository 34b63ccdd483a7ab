"""Exports with cursors, show_many chunking and the small caches (sandbox)."""

from __future__ import annotations

from collections.abc import Callable

from sandbox.testing import SandboxHandle
from sync import MemoryStateStore, ZendeskClient
from sync.state import INCREMENTAL_TICKETS_CURSOR, TICKET_EVENTS_START

from .conftest import api_calls, make_ticket
from .test_writes import _import_tickets


def test_search_export_follows_the_cursor_past_one_page(
    client: ZendeskClient, zd: SandboxHandle
) -> None:
    tickets = _import_tickets(zd, 25)
    zd.reset_stats()
    found = list(client.search_export("type:ticket status<solved", page_size=10))
    assert sorted(t["id"] for t in found) == sorted(t["id"] for t in tickets)
    assert api_calls(zd.stats()) == {"GET /api/v2/search/export": 3}


def test_incremental_export_resumes_from_the_persisted_cursor(
    make_client: Callable[..., ZendeskClient], zd: SandboxHandle
) -> None:
    state = MemoryStateStore()
    first = [make_ticket(zd)["id"] for _ in range(3)]
    seen = [t["id"] for t in make_client(state=state).incremental_tickets()]
    assert seen == first
    assert state.get(INCREMENTAL_TICKETS_CURSOR)

    zd.api("PUT", f"tickets/{first[1]}.json", json={"ticket": {"priority": "low"}})
    newer = make_ticket(zd)["id"]
    # A new client (say, the next run) only sees what changed since.
    changed = [t["id"] for t in make_client(state=state).incremental_tickets()]
    assert sorted(changed) == sorted([first[1], newer])  # ordered by updated_at, then id
    assert list(make_client(state=state).incremental_tickets()) == []


def test_stopping_mid_page_does_not_skip_that_page_next_time(
    make_client: Callable[..., ZendeskClient], zd: SandboxHandle
) -> None:
    state = MemoryStateStore()
    ids = [make_ticket(zd)["id"] for _ in range(3)]
    export = make_client(state=state).incremental_tickets()
    assert next(export)["id"] == ids[0]
    export.close()  # the run stopped early
    assert state.get(INCREMENTAL_TICKETS_CURSOR) is None
    assert [t["id"] for t in make_client(state=state).incremental_tickets()] == ids


def test_ticket_events_include_comments_and_checkpoint_the_start_time(
    client: ZendeskClient, zd: SandboxHandle
) -> None:
    ticket = make_ticket(zd)
    events = [e for e in client.ticket_events() if e["ticket_id"] == ticket["id"]]
    assert events
    comments = [c for e in events for c in e["child_events"] if c["event_type"] == "Comment"]
    assert comments[0]["body"] == "It fails since this morning."
    assert client.state.get(TICKET_EVENTS_START) >= events[-1]["timestamp"]


def test_show_many_asks_for_at_most_100_ids_per_call(
    client: ZendeskClient, zd: SandboxHandle
) -> None:
    tickets = _import_tickets(zd, 120)
    zd.reset_stats()
    found = client.show_many(t["id"] for t in tickets)
    assert len(found) == 120
    assert api_calls(zd.stats()) == {"GET /api/v2/tickets/show_many": 2}


def test_field_status_and_group_lists_are_cached_until_refreshed(
    client: ZendeskClient, zd: SandboxHandle
) -> None:
    for _ in range(3):
        client.ticket_fields()
        client.custom_statuses()
        client.groups()
    assert api_calls(zd.stats()) == {
        "GET /api/v2/ticket_fields": 1,
        "GET /api/v2/custom_statuses": 1,
        "GET /api/v2/groups": 1,
    }
    client.groups(refresh=True)
    assert api_calls(zd.stats())["GET /api/v2/groups"] == 2


def test_a_client_used_as_a_context_manager_closes_its_connections(
    make_client: Callable[..., ZendeskClient],
) -> None:
    with make_client() as client:
        client.me()
        pools = client.session.get_adapter("http://127.0.0.1/").poolmanager.pools
        assert len(pools) == 1
    assert len(pools) == 0
