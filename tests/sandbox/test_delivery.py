"""Triggers deliver signed webhooks like Zendesk: conditions, placeholders, signature, retries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sandbox.testing import SandboxHandle


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records requests and answers scripted statuses."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[int] = []
        self.hold = threading.Event()
        self.hold.set()
        self.stall_first = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": raw})
                receiver.hold.wait(30)
                if receiver.stall_first and len(receiver.requests) == 1:
                    threading.Event().wait(receiver.stall_first)
                status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/zendesk"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Zendesk's documented recipe: base64(HMAC-SHA256(secret, timestamp + body))."""
    timestamp = headers["X-Zendesk-Webhook-Signature-Timestamp"]
    expected = base64.b64encode(
        hmac.new(secret.encode(), (timestamp + body.decode()).encode(), hashlib.sha256).digest()
    )
    return hmac.compare_digest(expected.decode(), headers["X-Zendesk-Webhook-Signature"])


def setup_hook(
    zd: SandboxHandle, receiver: Receiver, conditions: dict[str, Any], template: str | None = None
) -> tuple[str, str]:
    webhook = zd.api(
        "POST",
        "webhooks",
        json={
            "webhook": {
                "name": "cxlayer",
                "endpoint": receiver.url,
                "http_method": "POST",
                "request_format": "json",
                "status": "active",
                "subscriptions": ["conditional_ticket_events"],
            }
        },
    ).json()["webhook"]
    secret = zd.api("GET", f"webhooks/{webhook['id']}/signing_secret").json()["signing_secret"][
        "secret"
    ]
    body = template or json.dumps(
        {
            "ticket_id": "{{ticket.id}}",
            "status": "{{ticket.status}}",
            "custom_status_id": "{{ticket.custom_status_id}}",
            "updated_at": "{{ticket.updated_at_with_timestamp}}",
            "requester_id": "{{ticket.requester.id}}",
            "actor_id": "{{current_user.id}}",
            "subject": "{{ticket.title}}",
        }
    )
    response = zd.api(
        "POST",
        "triggers",
        json={
            "trigger": {
                "title": "notify",
                "conditions": conditions,
                "actions": [{"field": "notification_webhook", "value": [webhook["id"], body]}],
            }
        },
    )
    assert response.status_code == 201, response.text
    return str(webhook["id"]), str(secret)


def create(zd: SandboxHandle, **ticket: Any) -> dict[str, Any]:
    ticket.setdefault("subject", 'Quote "this" please')
    ticket.setdefault("comment", {"body": "b"})
    response = zd.api("POST", "tickets.json", json={"ticket": ticket})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["ticket"]
    return created


CHANGED_TO_PENDING = {
    "all": [
        {"field": "update_type", "operator": "is", "value": "Change"},
        {"field": "status", "operator": "value", "value": "pending"},
    ],
    "any": [],
}


def test_matching_update_delivers_a_signed_rendered_webhook(
    sandbox: SandboxHandle, receiver: Receiver
) -> None:
    webhook_id, secret = setup_hook(sandbox, receiver, CHANGED_TO_PENDING)
    ticket = create(sandbox)
    updated = sandbox.api(
        "PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "pending"}}
    ).json()["ticket"]
    [delivery] = sandbox.deliveries(wait=10)
    assert delivery["outcome"] == "delivered"
    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert verify_signature(secret, headers, body)
    assert headers["X-Zendesk-Webhook-Id"] == webhook_id
    assert headers["X-Zendesk-Webhook-Invocation-Id"] == delivery["invocation_id"]
    admin = sandbox.api("GET", "users/me.json").json()["user"]
    assert json.loads(body) == {
        "ticket_id": str(ticket["id"]),
        "status": "Pending",
        "custom_status_id": str(updated["custom_status_id"]),
        "updated_at": updated["updated_at"],
        "requester_id": str(ticket["requester_id"]),
        "actor_id": str(admin["id"]),
        "subject": 'Quote "this" please',
    }


def test_tampered_body_fails_the_independent_verifier(
    sandbox: SandboxHandle, receiver: Receiver
) -> None:
    _, secret = setup_hook(sandbox, receiver, CHANGED_TO_PENDING)
    ticket = create(sandbox)
    sandbox.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "pending"}})
    sandbox.deliveries(wait=10)
    [request] = receiver.requests
    assert not verify_signature(secret, request["headers"], request["body"] + b" ")
    assert not verify_signature("wrong-secret", request["headers"], request["body"])


def test_non_matching_update_and_imports_deliver_nothing(
    sandbox: SandboxHandle, receiver: Receiver
) -> None:
    setup_hook(sandbox, receiver, CHANGED_TO_PENDING)
    ticket = create(sandbox, status="pending")
    sandbox.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"priority": "high"}})
    sandbox.api(
        "POST",
        "imports/tickets.json",
        json={"ticket": {"subject": "old", "status": "pending", "comments": [{"body": "x"}]}},
    )
    assert sandbox.deliveries(wait=10) == []


def test_update_many_jobs_fire_triggers_too(sandbox: SandboxHandle, receiver: Receiver) -> None:
    setup_hook(sandbox, receiver, CHANGED_TO_PENDING)
    ids = [create(sandbox)["id"] for _ in range(2)]
    job = sandbox.api(
        "PUT",
        f"tickets/update_many.json?ids={ids[0]},{ids[1]}",
        json={"ticket": {"status": "pending"}},
    ).json()
    sandbox.wait_job(job["job_status"]["id"])
    delivered = sandbox.deliveries(wait=10)
    assert sorted(d["ticket_id"] for d in delivered) == ids


def test_api_calls_never_wait_on_delivery(sandbox: SandboxHandle, receiver: Receiver) -> None:
    """The endpoint is blocked; the update must still answer (if delivery were synchronous, it
    would hang until the receiver is released)."""
    setup_hook(sandbox, receiver, CHANGED_TO_PENDING)
    ticket = create(sandbox)
    receiver.hold.clear()
    response = sandbox.api(
        "PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "pending"}}
    )
    assert response.status_code == 200
    receiver.hold.set()
    assert sandbox.deliveries(wait=10)[0]["outcome"] == "delivered"


@pytest.mark.parametrize(
    ("script", "attempts", "outcome"),
    [
        ([503, 200], 2, "delivered"),
        ([409, 500, 200], 3, "delivered"),
        ([400], 1, "failed"),
        ([503, 503, 503, 503], 4, "failed"),
    ],
)
def test_retries_on_409_and_5xx_only(
    sandbox: SandboxHandle, receiver: Receiver, script: list[int], attempts: int, outcome: str
) -> None:
    sandbox.set_webhook_delivery(backoff_seconds=0.01)
    _, secret = setup_hook(sandbox, receiver, CHANGED_TO_PENDING)
    receiver.script = list(script)
    ticket = create(sandbox)
    sandbox.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "pending"}})
    [delivery] = sandbox.deliveries(wait=10)
    assert [a["status"] for a in delivery["attempts"]] == script[:attempts]
    assert delivery["outcome"] == outcome
    assert len({r["headers"]["X-Zendesk-Webhook-Invocation-Id"] for r in receiver.requests}) == 1
    assert all(verify_signature(secret, r["headers"], r["body"]) for r in receiver.requests)


def test_timeout_is_retried(sandbox: SandboxHandle, receiver: Receiver) -> None:
    sandbox.set_webhook_delivery(backoff_seconds=0.01, timeout_seconds=0.2)
    setup_hook(sandbox, receiver, CHANGED_TO_PENDING)
    receiver.stall_first = 1.0
    ticket = create(sandbox)
    sandbox.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "pending"}})
    [delivery] = sandbox.deliveries(wait=10)
    assert delivery["attempts"][0]["error"] == "timeout"
    assert delivery["outcome"] == "delivered"


def test_conditions_on_comments_tags_custom_fields_and_custom_status(
    sandbox: SandboxHandle, receiver: Receiver
) -> None:
    field = sandbox.api(
        "POST",
        "ticket_fields.json",
        json={
            "ticket_field": {
                "type": "tagger",
                "title": "Resolution",
                "custom_field_options": [
                    {"name": "Defect::Code fix", "value": "code_fix"},
                    {"name": "Defect::Data fix", "value": "data_fix"},
                ],
            }
        },
    ).json()["ticket_field"]
    status = sandbox.api(
        "POST",
        "custom_statuses.json",
        json={"custom_status": {"status_category": "open", "agent_label": "Fixed – Pending RCA"}},
    ).json()["custom_status"]
    conditions = {
        "all": [
            {"field": "update_type", "operator": "is", "value": "Change"},
            {"field": "comment_is_public", "operator": "is", "value": "true"},
            {"field": "current_tags", "operator": "includes", "value": "vip gold"},
            {"field": f"custom_fields_{field['id']}", "operator": "changed", "value": None},
        ],
        "any": [
            {"field": "custom_status_id", "operator": "is", "value": status["id"]},
            {"field": "status", "operator": "is", "value": "pending"},
        ],
    }
    template = json.dumps(
        {
            "field": f"{{{{ticket.ticket_field_{field['id']}}}}}",
            "title": f"{{{{ticket.ticket_field_option_title_{field['id']}}}}}",
        }
    )
    setup_hook(sandbox, receiver, conditions, template)
    ticket = create(sandbox, tags=["vip"])
    url = f"tickets/{ticket['id']}.json"
    cf = [{"id": field["id"], "value": "code_fix"}]
    # Private comment: no.
    sandbox.api(
        "PUT",
        url,
        json={
            "ticket": {
                "custom_fields": cf,
                "custom_status_id": status["id"],
                "comment": {"body": "n", "public": False},
            }
        },
    )
    # Field unchanged: no.
    sandbox.api("PUT", url, json={"ticket": {"comment": {"body": "p"}}})
    # Everything holds: yes.
    cf2 = [{"id": field["id"], "value": "data_fix"}]
    sandbox.api("PUT", url, json={"ticket": {"custom_fields": cf2, "comment": {"body": "public"}}})
    delivered = sandbox.deliveries(wait=10)
    assert len(delivered) == 1
    assert json.loads(receiver.requests[0]["body"]) == {
        "field": "data_fix",
        "title": "Defect::Data fix",
    }


def test_inactive_webhook_delivers_nothing(sandbox: SandboxHandle, receiver: Receiver) -> None:
    webhook_id, _ = setup_hook(sandbox, receiver, CHANGED_TO_PENDING)
    sandbox.api("PATCH", f"webhooks/{webhook_id}", json={"webhook": {"status": "inactive"}})
    ticket = create(sandbox)
    sandbox.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "pending"}})
    assert sandbox.deliveries(wait=10) == []


def test_webhook_authentication_and_custom_headers_are_sent(
    sandbox: SandboxHandle, receiver: Receiver
) -> None:
    webhook_id, _ = setup_hook(sandbox, receiver, CHANGED_TO_PENDING)
    sandbox.api(
        "PATCH",
        f"webhooks/{webhook_id}",
        json={
            "webhook": {
                "authentication": {
                    "type": "bearer_token",
                    "data": {"token": "s3cret"},
                    "add_position": "header",
                },
                "custom_headers": {"X-Env": "demo"},
            }
        },
    )
    ticket = create(sandbox)
    sandbox.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "pending"}})
    sandbox.deliveries(wait=10)
    headers = receiver.requests[0]["headers"]
    assert headers["Authorization"] == "Bearer s3cret"
    assert headers["X-Env"] == "demo"
    shown = sandbox.api("GET", f"webhooks/{webhook_id}").json()["webhook"]
    assert shown["authentication"] == {"type": "bearer_token", "add_position": "header"}
