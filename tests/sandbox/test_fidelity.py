"""Every implemented /api/v2 route, called once and validated against Zendesk's OpenAPI description;
the test fails if a route is added without being covered here."""

from __future__ import annotations

from typing import Any

import requests

from sandbox.testing import SandboxHandle

# Not in oas.yaml (see /work/shared/zendesk/README.md) or documented with a wrong envelope there;
# their shapes are asserted by the tests named beside them.
NOT_IN_OAS = {
    "GET /api/v2/tickets/<int:ticket_id>/metrics": "test_search.py::test_ticket_metrics_list_and_show",
    "GET /api/v2/ticket_metrics/<int:metric_id>": "test_search.py::test_ticket_metrics_list_and_show",
    "GET /api/v2/webhooks": "test_config.py::test_webhooks_crud_and_signing_secret",
    "POST /api/v2/webhooks": "test_config.py::test_webhooks_crud_and_signing_secret",
    "GET /api/v2/webhooks/<webhook_id>": "test_config.py::test_webhooks_crud_and_signing_secret",
    "PUT /api/v2/webhooks/<webhook_id>": "test_config.py::test_webhooks_crud_and_signing_secret",
    "PATCH /api/v2/webhooks/<webhook_id>": "test_delivery.py::test_inactive_webhook_delivers_nothing",
    "DELETE /api/v2/webhooks/<webhook_id>": "this test (204, no body)",
    "GET /api/v2/webhooks/<webhook_id>/signing_secret": "test_config.py::test_webhooks_crud_and_signing_secret",
    "POST /api/v2/webhooks/<webhook_id>/signing_secret": "this test",
}


def test_every_route_answers_as_the_oas_documents(sandbox: SandboxHandle, oas: Any) -> None:
    def call(method: str, path: str, expect: int, **kwargs: Any) -> Any:
        before = sandbox.stats()["endpoints"]
        response = sandbox.api(method, path, **kwargs)
        assert response.status_code == expect, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        after = sandbox.stats()["endpoints"]
        [endpoint] = [k for k in after if after[k] != before.get(k, 0)]
        if response.status_code == 204:
            return None
        body = response.json()
        if endpoint not in NOT_IN_OAS:
            url_path = requests.utils.urlparse(str(response.request.url)).path
            oas.validate(method, url_path, response.status_code, body)
        return body

    org = call("POST", "organizations.json", 201, json={"organization": {"name": "Northlight"}})[
        "organization"
    ]
    call("GET", "organizations.json", 200)
    call("GET", f"organizations/{org['id']}.json", 200)
    call(
        "PUT",
        f"organizations/{org['id']}.json",
        200,
        json={"organization": {"notes": "key account"}},
    )
    call("GET", f"organizations/show_many.json?ids={org['id']}", 200)
    group = call("POST", "groups.json", 201, json={"group": {"name": "Tech"}})["group"]
    call("GET", "groups.json", 200)
    call("GET", f"groups/{group['id']}.json", 200)
    call("PUT", f"groups/{group['id']}.json", 200, json={"group": {"description": "Tech support"}})
    call("GET", f"groups/show_many.json?ids={group['id']}", 200)
    agent = call(
        "POST",
        "users.json",
        201,
        json={"user": {"name": "Aisha", "email": "aisha@mo.example", "role": "agent"}},
    )["user"]
    call("GET", "users.json", 200)
    call("GET", f"users/{agent['id']}.json", 200)
    call("PUT", f"users/{agent['id']}.json", 200, json={"user": {"phone": "+1 212 555 0100"}})
    call("GET", "users/me.json", 200)
    call("GET", "users/search.json?query=aisha", 200)
    call("GET", f"users/show_many.json?ids={agent['id']}", 200)
    call(
        "POST",
        "group_memberships.json",
        201,
        json={"group_membership": {"user_id": agent["id"], "group_id": group["id"]}},
    )
    call("GET", "group_memberships.json", 200)
    status = call(
        "POST",
        "custom_statuses.json",
        201,
        json={
            "custom_status": {"status_category": "pending", "agent_label": "Awaiting your reply"}
        },
    )["custom_status"]
    call("GET", "custom_statuses.json", 200)
    call("GET", "custom_statuses.json?default=true", 200)
    call("GET", f"custom_statuses/{status['id']}.json", 200)
    call(
        "PUT",
        f"custom_statuses/{status['id']}.json",
        200,
        json={"custom_status": {"description": "Waiting on the client"}},
    )
    call("PUT", "custom_status/default.json", 200, json={"ids": str(status["id"])})
    field = call(
        "POST",
        "ticket_fields.json",
        201,
        json={
            "ticket_field": {
                "type": "tagger",
                "title": "Resolution type",
                "custom_field_options": [{"name": "Defect::Code fix", "value": "code_fix"}],
            }
        },
    )["ticket_field"]
    call("GET", "ticket_fields.json", 200)
    call("GET", f"ticket_fields/{field['id']}.json", 200)
    call(
        "PUT",
        f"ticket_fields/{field['id']}.json",
        200,
        json={"ticket_field": {"description": "How it was resolved"}},
    )
    call("GET", f"ticket_fields/{field['id']}/options.json", 200)
    ticket = call(
        "POST",
        "tickets.json",
        201,
        json={
            "ticket": {
                "subject": "SSO login loop",
                "comment": {"body": "Stuck"},
                "custom_fields": [{"id": field["id"], "value": "code_fix"}],
            }
        },
    )["ticket"]
    call("GET", "tickets.json", 200)
    call("GET", f"tickets/{ticket['id']}.json", 200)
    call(
        "PUT",
        f"tickets/{ticket['id']}.json",
        200,
        json={
            "ticket": {
                "custom_status_id": status["id"],
                "comment": {"body": "Which browser?", "author_id": agent["id"]},
            }
        },
    )
    call("GET", f"tickets/show_many.json?ids={ticket['id']}", 200)
    call("GET", f"tickets/{ticket['id']}/comments.json", 200)
    call("GET", f"tickets/{ticket['id']}/audits.json", 200)
    call("GET", f"tickets/{ticket['id']}/metrics.json", 200)
    metrics = call("GET", "ticket_metrics.json", 200)["ticket_metrics"]
    call("GET", f"ticket_metrics/{metrics[0]['id']}.json", 200)
    job = call(
        "PUT",
        f"tickets/update_many.json?ids={ticket['id']}",
        200,
        json={"ticket": {"priority": "high"}},
    )["job_status"]
    call("GET", f"job_statuses/{job['id']}.json", 200)
    call("GET", f"job_statuses/show_many.json?ids={job['id']}", 200)
    call("GET", "job_statuses.json", 200)
    imported = call(
        "POST",
        "imports/tickets.json",
        201,
        json={
            "ticket": {
                "subject": "Old",
                "comments": [{"body": "x"}],
                "created_at": "2024-01-01T00:00:00Z",
            }
        },
    )["ticket"]
    call(
        "POST",
        "imports/tickets/create_many.json",
        200,
        json={"tickets": [{"subject": "Old 2", "comments": [{"body": "y"}]}]},
    )
    call(
        "POST",
        "tickets/create_many.json",
        200,
        json={"tickets": [{"subject": "New 1", "comment": {"body": "z"}}]},
    )
    call("POST", f"tickets/{ticket['id']}/merge.json", 200, json={"ids": [imported["id"]]})
    call("GET", "search.json?query=type:ticket", 200)
    call("GET", "search/count.json?query=type:ticket", 200)
    call("GET", "search/export.json?query=login&filter[type]=ticket", 200)
    call("GET", "incremental/tickets/cursor.json?start_time=0", 200)
    call("GET", "incremental/ticket_events.json?start_time=0&include=comment_events", 200)
    webhook = call(
        "POST", "webhooks", 201, json={"webhook": {"name": "w", "endpoint": "http://127.0.0.1:9/"}}
    )["webhook"]
    call("GET", "webhooks", 200)
    call("GET", f"webhooks/{webhook['id']}", 200)
    call(
        "PUT",
        f"webhooks/{webhook['id']}",
        204,
        json={"webhook": {"name": "w2", "endpoint": "http://127.0.0.1:9/"}},
    )
    call("PATCH", f"webhooks/{webhook['id']}", 204, json={"webhook": {"status": "inactive"}})
    call("GET", f"webhooks/{webhook['id']}/signing_secret", 200)
    call("POST", f"webhooks/{webhook['id']}/signing_secret", 201)
    trigger = call(
        "POST",
        "triggers.json",
        201,
        json={
            "trigger": {
                "title": "t",
                "conditions": {
                    "all": [{"field": "update_type", "operator": "is", "value": "Change"}]
                },
                "actions": [{"field": "notification_webhook", "value": [webhook["id"], "{}"]}],
            }
        },
    )["trigger"]
    call("GET", "triggers.json", 200)
    call("GET", "triggers/active.json", 200)
    call("GET", f"triggers/{trigger['id']}.json", 200)
    call("PUT", f"triggers/{trigger['id']}.json", 200, json={"trigger": {"title": "t2"}})
    call("DELETE", f"triggers/{trigger['id']}.json", 204)
    call("DELETE", f"webhooks/{webhook['id']}", 204)
    call("DELETE", f"ticket_fields/{field['id']}.json", 204)
    call("DELETE", f"groups/{group['id']}.json", 204)
    call("DELETE", f"organizations/{org['id']}.json", 204)

    routes = {
        f"{method} {rule.rule}"
        for rule in sandbox.server.app.url_map.iter_rules()  # type: ignore[union-attr]
        if rule.rule.startswith("/api/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == set(sandbox.stats()["endpoints"])
