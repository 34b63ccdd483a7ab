"""The session layer under zenpy, against the sandbox over HTTP: rate limits, retries, caps."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
import requests
from flask import Flask

from sandbox.testing import SandboxHandle
from sync import (
    RateLimitBudgetExhausted,
    ZendeskApiError,
    ZendeskClient,
    ZendeskUnavailable,
    client_for,
    idempotent_writes,
)
from sync.http import (
    RETRY_BASE_SECONDS,
    RETRY_MAX_SECONDS,
    OperationMetrics,
    Policy,
    Tracker,
    ZendeskSession,
)

from .conftest import make_ticket

# With random.Random(1) the first draw is below 0.5 and the second above: the first request
# gets the injected fault, the retry goes through.
FIRST_ONLY = {"error_rate": 0.5, "random_seed": 1}


def test_429_with_retry_after_is_waited_out_and_resent(
    client: ZendeskClient, zd: SandboxHandle
) -> None:
    ticket = make_ticket(zd)
    zd.set_faults(status=429, paths=["/api/v2/tickets/"], **FIRST_ONLY)
    with client.operation("read") as op:
        assert client.ticket(ticket["id"])["id"] == ticket["id"]
    stats = zd.stats()
    assert stats["statuses"] == {"201": 1, "429": 1, "200": 1}
    assert op.calls == 2 and op.rate_limited == 1
    assert op.waited_seconds == pytest.approx(1.0)  # the sandbox's Retry-After: 1


def test_429_on_a_post_is_resent_because_it_was_not_processed(
    client: ZendeskClient, zd: SandboxHandle
) -> None:
    zd.set_faults(status=429, paths=["/api/v2/groups"], **FIRST_ONLY)
    created = client.call("POST", "/api/v2/groups.json", body={"group": {"name": "Ops"}})
    assert created["group"]["name"] == "Ops"
    assert zd.stats()["endpoints"]["POST /api/v2/groups"] == 2
    assert [g["name"] for g in client.groups(refresh=True)].count("Ops") == 1


def test_5xx_on_a_get_is_retried(client: ZendeskClient, zd: SandboxHandle) -> None:
    ticket = make_ticket(zd)
    zd.set_faults(status=503, paths=["/api/v2/tickets/"], **FIRST_ONLY)
    with client.operation("read") as op:
        assert client.ticket(ticket["id"])["subject"] == ticket["subject"]
    assert zd.stats()["endpoints"]["GET /api/v2/tickets/<int:ticket_id>"] == 2
    assert op.retries == 1


def test_a_get_gives_up_after_max_retries(
    make_client: Callable[..., ZendeskClient], zd: SandboxHandle
) -> None:
    client = make_client(policy=Policy(max_retries=2, max_wait_seconds=10))
    zd.set_faults(status=500, error_rate=1.0, paths=["/api/v2/users/me"])
    with pytest.raises(ZendeskApiError) as caught:
        client.me()
    assert caught.value.status == 500
    assert zd.stats()["endpoints"]["GET /api/v2/users/me"] == 3


def test_a_post_is_not_blindly_retried_on_5xx(client: ZendeskClient, zd: SandboxHandle) -> None:
    zd.set_faults(status=503, error_rate=1.0, paths=["/api/v2/tickets"])
    with pytest.raises(ZendeskApiError) as caught:
        client.call(
            "POST",
            "/api/v2/tickets.json",
            body={"ticket": {"subject": "x", "comment": {"body": "y"}}},
        )
    assert caught.value.status == 503
    assert zd.stats()["endpoints"] == {"POST /api/v2/tickets": 1}


def test_a_ticket_update_with_a_comment_is_not_resent_after_a_dropped_connection(
    client: ZendeskClient, zd: SandboxHandle
) -> None:
    ticket = make_ticket(zd)
    zd.set_faults(drop_rate=1.0, paths=[f"/api/v2/tickets/{ticket['id']}"])
    with pytest.raises(ZendeskUnavailable):
        client.update_ticket(
            ticket["updated_at"], ticket["id"], {"comment": {"body": "hi", "public": False}}
        )
    assert zd.stats()["endpoints"]["PUT /api/v2/tickets/<int:ticket_id>"] == 1


def test_writes_marked_idempotent_are_retried(client: ZendeskClient, zd: SandboxHandle) -> None:
    group = client.call("POST", "/api/v2/groups.json", body={"group": {"name": "Ops"}})["group"]
    zd.set_faults(status=502, paths=[f"/api/v2/groups/{group['id']}"], **FIRST_ONLY)
    with idempotent_writes():
        client.call("PUT", f"/api/v2/groups/{group['id']}.json", body={"group": {"name": "Ops2"}})
    assert zd.stats()["endpoints"]["PUT /api/v2/groups/<int:obj_id>"] == 2


def test_proactive_throttling_keeps_the_reserved_share_and_the_cap_stops_resumably(
    make_client: Callable[..., ZendeskClient], zd: SandboxHandle
) -> None:
    """rpm 10 with 30% reserved: 7 calls go out, the 8th would wait ~a minute, past the cap."""
    zd.set_limits(rpm=10)
    client = make_client(policy=Policy(reserved_budget_share=0.3, max_wait_seconds=5))
    done = 0
    with pytest.raises(RateLimitBudgetExhausted) as caught, client.operation("sweep") as op:
        for _ in range(20):
            client.me()
            done += 1
            op.done["users_read"] = done
    assert done == 7
    stats = zd.stats()
    assert stats["statuses"] == {"200": 7}  # never ran into a 429
    error = caught.value
    assert error.operation == "sweep" and error.calls == 7
    assert error.done == {"users_read": 7}
    assert error.needed_seconds > 5
    assert "resumed" in str(error)


def test_the_wait_cap_refuses_a_retry_after_longer_than_it(
    make_client: Callable[..., ZendeskClient], zd: SandboxHandle
) -> None:
    client = make_client(policy=Policy(max_wait_seconds=0.5))
    zd.set_faults(status=429, error_rate=1.0, paths=["/api/v2/users/me"])
    with pytest.raises(RateLimitBudgetExhausted):
        client.me()
    assert zd.stats()["endpoints"] == {"GET /api/v2/users/me": 1}


def test_a_slow_answer_times_out_and_a_get_is_retried_within_limits(
    make_client: Callable[..., ZendeskClient], zd: SandboxHandle
) -> None:
    client = make_client(policy=Policy(read_timeout=0.2, max_retries=1, max_wait_seconds=10))
    zd.set_faults(latency_ms=600, paths=["/api/v2/users/me"])
    with pytest.raises(ZendeskUnavailable, match="after 1 retries"):
        client.me()
    zd.clear_faults()
    assert client.me()["email"] == zd.email


def test_metrics_count_calls_per_operation_and_in_total(client: ZendeskClient) -> None:
    with client.operation("outer") as outer:
        client.me()
        with client.operation("inner") as inner:
            client.me()
            client.groups(refresh=True)
    assert (outer.calls, inner.calls) == (3, 2)
    assert inner.endpoints == {"GET /api/v2/users/me.json": 1, "GET /api/v2/groups.json": 1}
    assert client.metrics["calls"] == 3


def test_oauth_token_is_sent_as_bearer_and_bad_credentials_fail_clearly(
    make_client: Callable[..., ZendeskClient], zd: SandboxHandle
) -> None:
    client = ZendeskClient(subdomain=zd.subdomain, oauth_token=zd.oauth_token, url=zd.base_url)
    assert client.me()["email"] == zd.email
    with pytest.raises(ZendeskApiError) as caught:
        make_client(token="wrong").me()
    assert caught.value.status == 401


def test_outside_an_operation_the_cap_counts_all_waits_of_one_request(
    make_client: Callable[..., ZendeskClient], zd: SandboxHandle
) -> None:
    """Retry-After 1 on every answer, cap 2.5 s: two waits, then the typed error (no hang)."""
    client = make_client(policy=Policy(max_wait_seconds=2.5))
    zd.set_faults(status=429, error_rate=1.0, paths=["/api/v2/users/me"])
    with pytest.raises(RateLimitBudgetExhausted) as caught:
        client.me()
    assert zd.stats()["endpoints"] == {"GET /api/v2/users/me": 3}
    assert caught.value.waited_seconds == pytest.approx(2.0)
    assert client.metrics["rate_limited"] == 2


def _session(policy: Policy, slept: list[float]) -> ZendeskSession:
    return ZendeskSession(
        "https://acme.zendesk.com",
        None,
        policy,
        Tracker(),
        sleep=slept.append,
        clock=lambda: 100.0,
        rng=random.Random(7),
    )


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    session = _session(Policy(), [])
    for attempt in range(10):
        base = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**attempt)
        delays = {session._backoff(attempt, None) for _ in range(20)}
        assert all(base / 2 <= d <= base for d in delays)
        assert len(delays) > 1  # jitter: concurrent clients do not retry in step


def test_without_a_reset_header_throttling_paces_by_the_per_minute_limit() -> None:
    """X-Rate-Limit 100, 10 remaining, 30% reserved (floor 30): wait for 21 slots to free."""
    slept: list[float] = []
    session = _session(Policy(reserved_budget_share=0.3), slept)
    response = requests.Response()
    response.status_code = 200
    response.headers.update({"X-Rate-Limit": "100", "X-Rate-Limit-Remaining": "10"})
    session._observe(response)
    session._throttle(OperationMetrics("test"))
    assert slept == [pytest.approx(60 * 21 / 100)]
    session._throttle(OperationMetrics("test"))  # unknown again until the next answer
    assert len(slept) == 1


def test_clients_of_one_app_share_the_accounts_budget(
    zd_app: Callable[..., Flask], zd: SandboxHandle
) -> None:
    """The budget is the account's: a new client (the next event) knows it is nearly spent."""
    app = zd_app(SETTINGS={"zendesk": {"max_wait_seconds": 5, "reserved_budget_share": 0.3}})
    zd.set_limits(rpm=10)
    first = client_for(app)
    for _ in range(7):
        first.me()
    with pytest.raises(RateLimitBudgetExhausted):
        client_for(app).me()
    assert zd.stats()["statuses"] == {"200": 7}
