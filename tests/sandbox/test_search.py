"""Search, search export, incremental ticket and event exports, and ticket metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from sandbox import errors
from sandbox.testing import SandboxHandle

Checked = Callable[[requests.Response], Any]


def create(zd: SandboxHandle, **ticket: Any) -> dict[str, Any]:
    ticket.setdefault("subject", "Prisma campaign missing")
    ticket.setdefault("comment", {"body": "The campaign is not in the Buy Sheet."})
    response = zd.api("POST", "tickets.json", json={"ticket": ticket})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["ticket"]
    return created


def found(zd: SandboxHandle, query: str) -> list[int]:
    response = zd.api("GET", "search.json", params={"query": query})
    assert response.status_code == 200, response.text
    return sorted(r["id"] for r in response.json()["results"])


@pytest.fixture
def people(sandbox: SandboxHandle) -> dict[str, Any]:
    org = sandbox.api(
        "POST", "organizations.json", json={"organization": {"name": "Northlight"}}
    ).json()
    group = sandbox.api("POST", "groups.json", json={"group": {"name": "Finance"}}).json()
    user = sandbox.api(
        "POST",
        "users.json",
        json={
            "user": {
                "name": "Kim",
                "email": "kim@northlight.example",
                "organization_id": org["organization"]["id"],
            }
        },
    ).json()
    return {"org": org["organization"], "group": group["group"], "user": user["user"]}


def test_search_keywords_negation_and_free_text(
    sandbox: SandboxHandle, people: dict[str, Any], checked: Checked
) -> None:
    a = create(
        sandbox, requester_id=people["user"]["id"], tags=["billing"], subject="Invoice unmatched"
    )
    b = create(sandbox, status="pending", group_id=people["group"]["id"], subject="Spot schedule")
    c = create(sandbox, status="solved", tags=["billing", "vip"], subject="Duplicate payment")
    body = checked(
        sandbox.api("GET", "search.json", params={"query": "type:ticket status:pending"})
    )
    assert [r["id"] for r in body["results"]] == [b["id"]]
    assert body["results"][0]["result_type"] == "ticket"
    assert found(sandbox, "type:ticket status<pending") == [a["id"]]
    assert found(sandbox, "type:ticket status>open") == [b["id"], c["id"]]
    assert found(sandbox, "type:ticket status:new status:solved") == [a["id"], c["id"]]
    assert found(sandbox, f"requester:{people['user']['email']}") == [a["id"]]
    assert found(sandbox, "organization:Northlight") == [a["id"]]
    assert found(sandbox, "group:Finance") == [b["id"]]
    assert found(sandbox, "tags:billing -tags:vip") == [a["id"]]
    # A negation keeps tickets that have no value at all (no group, no priority).
    assert found(sandbox, "type:ticket -group:Finance") == [a["id"], c["id"]]
    assert found(sandbox, "type:ticket -priority:urgent") == [a["id"], b["id"], c["id"]]
    assert found(sandbox, "invoice") == [a["id"]]
    assert found(sandbox, f"custom_status_id:{c['custom_status_id']}") == [c["id"]]
    assert found(sandbox, "created>2000-01-01 created<2000-01-02") == []
    assert found(sandbox, "updated>2000-01-01") == [a["id"], b["id"], c["id"]]


def test_unsupported_search_keyword_is_a_clear_422(sandbox: SandboxHandle) -> None:
    response = sandbox.api("GET", "search.json", params={"query": "satisfaction:good"})
    assert response.status_code == 422
    assert "satisfaction" in response.json()["details"]["query"][0]["description"]


def test_search_pages_by_100_and_refuses_beyond_1000(
    sandbox: SandboxHandle, checked: Checked
) -> None:
    sandbox.seed(size=1050, random_seed=2)
    first = checked(sandbox.api("GET", "search.json", params={"query": "type:ticket"}))
    assert len(first["results"]) == 100
    assert first["count"] == 1050
    assert first["next_page"].startswith(sandbox.base_url + "/api/v2/search.json?")
    last = sandbox.api("GET", "search.json", params={"query": "type:ticket", "page": 10}).json()
    assert len(last["results"]) == 100
    beyond = sandbox.api("GET", "search.json", params={"query": "type:ticket", "page": 11})
    assert beyond.status_code == 422
    assert beyond.json() == {"error": "invalid", "description": errors.SEARCH_LIMIT_DESCRIPTION}


def test_zenpy_search_stops_at_the_1000_result_limit(
    sandbox_zenpy: Any, sandbox: SandboxHandle
) -> None:
    """zenpy follows next_page to page 11, gets the 422 and stops with what it has."""
    sandbox.seed(size=1001, random_seed=2)
    assert len(list(sandbox_zenpy.search(type="ticket"))) == 1000
    assert sandbox.stats()["statuses"]["422"] == 1


def test_search_export_walks_all_results_by_cursor(
    sandbox: SandboxHandle, checked: Checked
) -> None:
    sandbox.seed(size=250, random_seed=5)
    seen: list[int] = []
    response = sandbox.api(
        "GET",
        "search/export.json",
        params={"query": "status<closed", "filter[type]": "ticket", "page[size]": 100},
    )
    while True:
        body = checked(response)
        seen.extend(r["id"] for r in body["results"])
        if not body["meta"]["has_more"]:
            break
        response = sandbox.http.get(body["links"]["next"], auth=sandbox.auth, timeout=30)
    expected = sandbox.api("GET", "search/count.json", params={"query": "status<closed"}).json()[
        "count"
    ]
    assert len(seen) == len(set(seen)) == expected
    assert sandbox.api("GET", "search/export.json", params={"query": "x"}).status_code == 400
    too_big = sandbox.api(
        "GET",
        "search/export.json",
        params={"query": "x", "filter[type]": "ticket", "page[size]": 1001},
    )
    assert too_big.status_code == 400


def test_zenpy_search_export(sandbox_zenpy: Any, sandbox: SandboxHandle) -> None:
    sandbox.seed(size=150, random_seed=5)
    ids = [t.id for t in sandbox_zenpy.search_export(type="ticket", status="pending")]
    assert ids
    assert ids == found_all(sandbox, "status:pending")


def found_all(zd: SandboxHandle, query: str) -> list[int]:
    ids: list[int] = []
    page = 1
    while True:
        body = zd.api("GET", "search.json", params={"query": query, "page": page}).json()
        ids.extend(r["id"] for r in body["results"])
        if not body["next_page"]:
            return sorted(ids)
        page += 1


def test_incremental_ticket_cursor_export_with_metric_sets(
    sandbox: SandboxHandle, checked: Checked
) -> None:
    sandbox.seed(size=30, random_seed=6)
    body = checked(
        sandbox.api(
            "GET",
            "incremental/tickets/cursor.json",
            params={"start_time": 0, "include": "metric_sets", "per_page": 20},
        )
    )
    assert len(body["tickets"]) == 20
    assert body["end_of_stream"] is False
    assert [m["ticket_id"] for m in body["metric_sets"]] == [t["id"] for t in body["tickets"]]
    rest = checked(sandbox.http.get(body["after_url"], auth=sandbox.auth, timeout=30))
    assert rest["end_of_stream"] is True
    assert len(body["tickets"]) + len(rest["tickets"]) == 30
    # A later update shows up after the stream's cursor.
    ticket_id = rest["tickets"][0]["id"]
    sandbox.api("PUT", f"tickets/{ticket_id}.json", json={"ticket": {"priority": "urgent"}})
    later = sandbox.http.get(rest["after_url"], auth=sandbox.auth, timeout=30).json()
    assert [t["id"] for t in later["tickets"]] == [ticket_id]


def test_zenpy_incremental_cursor(sandbox_zenpy: Any, sandbox: SandboxHandle) -> None:
    sandbox.seed(size=40, random_seed=6)
    tickets = list(sandbox_zenpy.tickets.incremental(start_time=0, paginate_by_time=False))
    assert len(tickets) == 40


def test_ticket_events_with_comment_events_tell_who_spoke_last(
    sandbox: SandboxHandle, checked: Checked
) -> None:
    agent = sandbox.api(
        "POST",
        "users.json",
        json={"user": {"name": "Agent", "email": "ag@mo.example", "role": "agent"}},
    ).json()
    ticket = create(sandbox)
    sandbox.api(
        "PUT",
        f"tickets/{ticket['id']}.json",
        json={
            "ticket": {
                "status": "pending",
                "comment": {"body": "Can you confirm?", "author_id": agent["user"]["id"]},
            }
        },
    )
    body = checked(
        sandbox.api(
            "GET",
            "incremental/ticket_events.json",
            params={"start_time": 0, "include": "comment_events"},
        )
    )
    assert body["end_of_stream"] is True
    comments = [
        (e["ticket_id"], c["author_id"], c["public"], c["created_at"])
        for e in body["ticket_events"]
        for c in e["child_events"]
        if c["event_type"] == "Comment"
    ]
    assert [(t, a, p) for t, a, p, _ in comments] == [
        (ticket["id"], ticket["requester_id"], True),
        (ticket["id"], agent["user"]["id"], True),
    ]
    changes = [
        c for e in body["ticket_events"] for c in e["child_events"] if c["event_type"] == "Change"
    ]
    assert {"id", "status", "previous_value"} <= set(next(c for c in changes if "status" in c))
    plain = sandbox.api("GET", "incremental/ticket_events.json", params={"start_time": 0}).json()
    assert all(
        c["event_type"] != "Comment" for e in plain["ticket_events"] for c in e["child_events"]
    )


def test_ticket_metrics_list_and_show(sandbox: SandboxHandle, checked: Checked, oas: Any) -> None:
    ticket = create(sandbox)
    sandbox.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "solved"}})
    listed = checked(sandbox.api("GET", "ticket_metrics.json"))["ticket_metrics"]
    assert listed[0]["ticket_id"] == ticket["id"]
    assert listed[0]["solved_at"] is not None
    one = sandbox.api("GET", f"ticket_metrics/{listed[0]['id']}.json").json()["ticket_metric"]
    # The OAS types this envelope as an array; Zendesk (and zenpy) use one object.
    oas.validate_object("TicketMetricObject", one)
    assert one["ticket_id"] == ticket["id"]


def test_event_pages_never_split_a_second_so_clients_cannot_loop(sandbox: SandboxHandle) -> None:
    """1,200 events in the same second: the first page takes all of them, the next starts after."""
    tickets = [
        {"subject": f"T{n}", "comments": [{"body": "x"}], "created_at": "2024-01-01T00:00:00Z"}
        for n in range(100)
    ]
    for _ in range(12):
        job = sandbox.api(
            "POST", "imports/tickets/create_many.json", json={"tickets": tickets}
        ).json()
        sandbox.wait_job(job["job_status"]["id"])
    first = sandbox.api("GET", "incremental/ticket_events.json", params={"start_time": 0}).json()
    assert first["count"] == 1200
    assert first["end_of_stream"] is False
    rest = sandbox.http.get(first["next_page"], auth=sandbox.auth, timeout=30).json()
    assert rest["count"] == 0
    assert rest["end_of_stream"] is True


def test_zenpy_reads_ticket_events_with_comment_events(
    sandbox_zenpy: Any, sandbox: SandboxHandle
) -> None:
    sandbox.seed(size=20, random_seed=8)
    events = list(sandbox_zenpy.tickets.events(start_time=0, include="comment_events"))
    authors = {
        c["author_id"] for e in events for c in e.child_events if c["event_type"] == "Comment"
    }
    assert len(authors) > 2


def test_ticket_audits_match_the_oas(sandbox: SandboxHandle, checked: Checked) -> None:
    ticket = create(sandbox)
    sandbox.api(
        "PUT",
        f"tickets/{ticket['id']}.json",
        json={"ticket": {"status": "open", "comment": {"body": "x"}}},
    )
    audits = checked(sandbox.api("GET", f"tickets/{ticket['id']}/audits.json"))["audits"]
    assert [e["type"] for e in audits[1]["events"]] == ["Comment", "Change", "Change"]


def test_subject_keyword_searches_the_subject_only(sandbox: SandboxHandle) -> None:
    a = create(sandbox, subject="Invoice unmatched", comment={"body": "see the order"})
    create(sandbox, subject="Order missing", comment={"body": "invoice attached"})
    assert found(sandbox, "subject:invoice") == [a["id"]]
    assert len(found(sandbox, "invoice")) == 2


def test_me_means_the_authenticated_user(sandbox: SandboxHandle) -> None:
    me = sandbox.api("GET", "users/me.json").json()["user"]
    mine = create(sandbox, assignee_id=me["id"])
    create(sandbox)
    assert found(sandbox, "assignee:me") == [mine["id"]]


def test_custom_field_search_by_value_none_and_date_range(sandbox: SandboxHandle) -> None:
    """The sweep lists by its "Auto-solve due" date: `custom_field_<id>` with ranges and none."""

    def field(title: str, kind: str) -> int:
        body = {"ticket_field": {"type": kind, "title": title}}
        response = sandbox.api("POST", "ticket_fields.json", json=body)
        assert response.status_code == 201, response.text
        return int(response.json()["ticket_field"]["id"])

    due, note = field("Auto-solve due", "date"), field("Reference", "text")

    def with_due(value: str | None, ref: str | None = None) -> int:
        fields = [{"id": due, "value": value}, {"id": note, "value": ref}]
        return int(create(sandbox, custom_fields=fields)["id"])

    early, late = with_due("2026-12-01", "PO-7"), with_due("2026-12-09")
    empty = with_due(None)
    assert found(sandbox, f"custom_field_{due}<=2026-12-01") == [early]
    assert found(sandbox, f"custom_field_{due}<2026-12-01") == []
    assert found(sandbox, f"custom_field_{due}>2026-12-01") == [late]
    assert found(sandbox, f"custom_field_{due}:>=2026-12-01") == [early, late]
    assert found(sandbox, f"custom_field_{due}:2026-12-09") == [late]
    assert found(sandbox, f"custom_field_{due}:none") == [empty]
    assert found(sandbox, f"custom_field_{note}:po-7") == [early]
    for query, words in (
        (f"custom_field_{note}<2026-12-01", "needs a date field"),
        (f"custom_field_{due}<soon", "Invalid date"),
        ("custom_field_999999:x", "Unknown custom field"),
    ):
        response = sandbox.api("GET", "search.json", params={"query": query})
        assert response.status_code == 422, query
        assert words in response.text, (query, response.text)
