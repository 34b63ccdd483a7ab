"""Rate limits, per-ticket update limit, fault injection, request counting, concurrency."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import requests

from sandbox import errors
from sandbox.testing import SandboxHandle, run_sandbox


def create(zd: SandboxHandle) -> dict[str, Any]:
    response = zd.api(
        "POST", "tickets.json", json={"ticket": {"subject": "s", "comment": {"body": "b"}}}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["ticket"]
    return created


def test_account_budget_answers_429_with_retry_after_and_rate_headers() -> None:
    with run_sandbox(rpm=3) as zd:
        answers = [zd.api("GET", "users/me.json") for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        first, limited = answers[0], answers[3]
        assert first.headers["X-Rate-Limit"] == "3"
        assert first.headers["X-Rate-Limit-Remaining"] == "2"
        assert first.headers["ratelimit-limit"] == "3"
        assert first.headers["ratelimit-remaining"] == "2"
        assert int(first.headers["ratelimit-reset"]) > 0
        assert int(limited.headers["Retry-After"]) > 0
        assert limited.headers["X-Rate-Limit-Remaining"] == "0"
        assert limited.json()["description"] == errors.RATE_LIMITED_DESCRIPTION
        # Controls are never limited, so tests can still look.
        assert zd.stats()["statuses"]["429"] == 1


def test_per_ticket_update_limit(sandbox: SandboxHandle) -> None:
    sandbox.set_limits(ticket_update_limit=3)
    ticket = create(sandbox)
    url = f"tickets/{ticket['id']}.json"
    answers = [
        sandbox.api("PUT", url, json={"ticket": {"priority": "high"}}).status_code for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]
    other = create(sandbox)
    assert (
        sandbox.api(
            "PUT", f"tickets/{other['id']}.json", json={"ticket": {"priority": "low"}}
        ).status_code
        == 200
    )
    sandbox.advance_clock(601)
    assert sandbox.api("PUT", url, json={"ticket": {"priority": "low"}}).status_code == 200


def test_injected_errors_only_on_chosen_paths(sandbox: SandboxHandle) -> None:
    ticket = create(sandbox)
    sandbox.set_faults(error_rate=1.0, status=503, paths=["/api/v2/tickets"])
    faulted = sandbox.api("GET", f"tickets/{ticket['id']}.json")
    assert faulted.status_code == 503
    assert faulted.headers["Retry-After"] == "1"
    assert sandbox.api("GET", "users/me.json").status_code == 200
    sandbox.clear_faults()
    assert sandbox.api("GET", f"tickets/{ticket['id']}.json").status_code == 200


def test_injected_error_rate_is_a_share_of_requests(sandbox: SandboxHandle) -> None:
    sandbox.set_faults(error_rate=0.5, status=500, random_seed=7)
    codes = [sandbox.api("GET", "users/me.json").status_code for _ in range(40)]
    assert set(codes) == {200, 500}


def test_dropped_connection_is_a_connection_error(sandbox: SandboxHandle) -> None:
    sandbox.set_faults(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        requests.get(sandbox.base_url + "/api/v2/users/me.json", auth=sandbox.auth, timeout=10)
    sandbox.clear_faults()
    assert sandbox.api("GET", "users/me.json").status_code == 200


def test_stats_count_every_api_request_per_endpoint(sandbox: SandboxHandle) -> None:
    ticket = create(sandbox)
    for _ in range(3):
        sandbox.api("GET", f"tickets/{ticket['id']}.json")
    sandbox.api("GET", "tickets/999999.json")
    stats = sandbox.stats()
    assert stats["endpoints"] == {
        "POST /api/v2/tickets": 1,
        "GET /api/v2/tickets/<int:ticket_id>": 4,
    }
    assert stats["statuses"] == {"201": 1, "200": 3, "404": 1}
    assert stats["total"] == 5
    sandbox.reset_stats()
    assert sandbox.stats()["total"] == 0


def test_absolute_pagination_links_on_the_sandbox_address(sandbox: SandboxHandle) -> None:
    sandbox.seed(size=120, random_seed=1)
    page = sandbox.api("GET", "tickets.json", params={"per_page": 50}).json()
    assert page["next_page"].startswith(sandbox.base_url + "/api/v2/tickets.json?page=2")
    cursor = sandbox.api("GET", "tickets.json", params={"page[size]": 50}).json()
    assert cursor["links"]["next"].startswith(sandbox.base_url + "/api/v2/tickets.json?")
    second = requests.get(cursor["links"]["next"], auth=sandbox.auth, timeout=10).json()
    assert second["tickets"][0]["id"] == cursor["tickets"][-1]["id"] + 1


def test_concurrent_updates_are_all_applied(sandbox: SandboxHandle) -> None:
    """Many threads adding tags to one ticket: no update is lost under the shared lock."""
    sandbox.set_limits(ticket_update_limit=1000)
    ticket = create(sandbox)
    errors_seen: list[int] = []

    def worker(n: int) -> None:
        with requests.Session() as http:
            for k in range(5):
                response = http.put(
                    f"{sandbox.base_url}/api/v2/tickets/{ticket['id']}.json",
                    data=json.dumps({"ticket": {"additional_tags": [f"t{n}_{k}"]}}),
                    headers={"Content-Type": "application/json"},
                    auth=sandbox.auth,
                    timeout=30,
                )
                if response.status_code != 200:
                    errors_seen.append(response.status_code)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors_seen == []
    tags = sandbox.api("GET", f"tickets/{ticket['id']}.json").json()["ticket"]["tags"]
    assert len(tags) == 40


def test_dropped_write_is_counted_once_and_changes_nothing(sandbox: SandboxHandle) -> None:
    ticket = create(sandbox)
    sandbox.set_faults(drop_rate=1.0, paths=[f"/api/v2/tickets/{ticket['id']}"])
    with pytest.raises(requests.ConnectionError):
        requests.put(
            f"{sandbox.base_url}/api/v2/tickets/{ticket['id']}.json",
            json={"ticket": {"comment": {"body": "x" * 200_000}}},
            auth=sandbox.auth,
            timeout=10,
        )
    sandbox.clear_faults()
    assert sandbox.stats()["endpoints"]["PUT /api/v2/tickets/<int:ticket_id>"] == 1
    assert len(sandbox.api("GET", f"tickets/{ticket['id']}/comments.json").json()["comments"]) == 1
