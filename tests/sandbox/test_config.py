"""Account configuration: ticket fields, custom statuses, webhooks and triggers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from zenpy.lib.api_objects import CustomStatus, Ticket, TicketField, Trigger, Webhook

from sandbox import errors
from sandbox.testing import SandboxHandle

Checked = Callable[[requests.Response], Any]

RESOLUTION_OPTIONS = [
    {"name": "Recommendation::Alternate workflow provided", "value": "res_alt_workflow"},
    {"name": "Recommendation::System functionality explained", "value": "res_explained"},
    {"name": "Defect::Code fix", "value": "res_code_fix"},
]


def make_field(
    zd: SandboxHandle, options: list[dict[str, Any]] | None = None, title: str = "Resolution type"
) -> dict[str, Any]:
    response = zd.api(
        "POST",
        "ticket_fields.json",
        json={
            "ticket_field": {
                "type": "tagger",
                "title": title,
                "custom_field_options": options or RESOLUTION_OPTIONS,
            }
        },
    )
    assert response.status_code == 201, response.text
    field: dict[str, Any] = response.json()["ticket_field"]
    return field


def test_tagger_field_with_nested_option_names(sandbox: SandboxHandle, checked: Checked) -> None:
    field = checked(
        sandbox.api(
            "POST",
            "ticket_fields.json",
            json={
                "ticket_field": {
                    "type": "tagger",
                    "title": "Resolution type",
                    "custom_field_options": RESOLUTION_OPTIONS,
                }
            },
        )
    )["ticket_field"]
    assert [o["name"] for o in field["custom_field_options"]] == [
        o["name"] for o in RESOLUTION_OPTIONS
    ]
    assert all(o["id"] for o in field["custom_field_options"])
    checked(sandbox.api("GET", f"ticket_fields/{field['id']}.json"))
    listed = checked(sandbox.api("GET", "ticket_fields.json"))["ticket_fields"]
    assert [f["id"] for f in listed] == [field["id"]]
    checked(sandbox.api("GET", f"ticket_fields/{field['id']}/options.json"))


def test_options_are_replaced_as_a_full_list_keeping_ids_of_kept_values(
    sandbox: SandboxHandle, checked: Checked
) -> None:
    field = make_field(sandbox)
    kept = field["custom_field_options"][0]
    new_options = [
        {"name": "Recommendation::Workaround", "value": kept["value"]},
        {"name": "Redirect::Other", "value": "res_other"},
    ]
    updated = checked(
        sandbox.api(
            "PUT",
            f"ticket_fields/{field['id']}.json",
            json={"ticket_field": {"custom_field_options": new_options}},
        )
    )["ticket_field"]
    options = updated["custom_field_options"]
    assert [(o["name"], o["value"]) for o in options] == [
        (o["name"], o["value"]) for o in new_options
    ]
    assert options[0]["id"] == kept["id"]


def test_option_tag_used_by_another_field_is_422(sandbox: SandboxHandle) -> None:
    make_field(sandbox)
    response = sandbox.api(
        "POST",
        "ticket_fields.json",
        json={
            "ticket_field": {
                "type": "tagger",
                "title": "Other",
                "custom_field_options": [{"name": "X", "value": "res_code_fix"}],
            }
        },
    )
    assert response.status_code == 422
    assert response.json()["details"]["custom_field_options"][0][
        "description"
    ] == errors.TAG_IN_USE.format(tag="res_code_fix")
    assert len(sandbox.api("GET", "ticket_fields.json").json()["ticket_fields"]) == 1


def test_tagger_value_and_tags_stay_in_step(sandbox: SandboxHandle) -> None:
    field = make_field(sandbox)
    ticket = sandbox.api(
        "POST",
        "tickets.json",
        json={
            "ticket": {
                "subject": "s",
                "comment": {"body": "b"},
                "custom_fields": [{"id": field["id"], "value": "res_explained"}],
            }
        },
    ).json()["ticket"]
    assert "res_explained" in ticket["tags"]
    assert {"id": field["id"], "value": "res_explained"} in ticket["custom_fields"]
    changed = sandbox.api(
        "PUT",
        f"tickets/{ticket['id']}.json",
        json={"ticket": {"custom_fields": [{"id": field["id"], "value": "res_code_fix"}]}},
    ).json()["ticket"]
    assert "res_explained" not in changed["tags"]
    assert "res_code_fix" in changed["tags"]
    by_tags = sandbox.api(
        "PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"tags": ["res_alt_workflow"]}}
    ).json()["ticket"]
    assert {"id": field["id"], "value": "res_alt_workflow"} in by_tags["custom_fields"]
    bad = sandbox.api(
        "PUT",
        f"tickets/{ticket['id']}.json",
        json={"ticket": {"custom_fields": [{"id": field["id"], "value": "nope"}]}},
    )
    assert bad.status_code == 422


def test_custom_statuses_list_create_update(sandbox: SandboxHandle, checked: Checked) -> None:
    listed = checked(sandbox.api("GET", "custom_statuses.json"))["custom_statuses"]
    assert sorted(s["status_category"] for s in listed if s["default"]) == [
        "hold",
        "new",
        "open",
        "pending",
        "solved",
    ]
    made = checked(
        sandbox.api(
            "POST",
            "custom_statuses.json",
            json={
                "custom_status": {
                    "status_category": "open",
                    "agent_label": "Fixed – Pending RCA",
                    "end_user_label": "Fixed – Pending RCA",
                }
            },
        )
    )["custom_status"]
    assert (made["default"], made["active"]) == (False, True)
    updated = checked(
        sandbox.api(
            "PUT",
            f"custom_statuses/{made['id']}.json",
            json={"custom_status": {"agent_label": "Fixed - RCA"}},
        )
    )["custom_status"]
    assert updated["agent_label"] == "Fixed - RCA"
    checked(sandbox.api("GET", f"custom_statuses/{made['id']}.json"))
    duplicate = sandbox.api(
        "POST",
        "custom_statuses.json",
        json={"custom_status": {"status_category": "open", "agent_label": "Fixed - RCA"}},
    )
    assert duplicate.status_code == 422
    default_open = next(s for s in listed if s["default"] and s["status_category"] == "open")
    deactivate = sandbox.api(
        "PUT",
        f"custom_statuses/{default_open['id']}.json",
        json={"custom_status": {"active": False}},
    )
    assert deactivate.status_code == 422


def test_webhooks_crud_and_signing_secret(sandbox: SandboxHandle) -> None:
    created = sandbox.api(
        "POST",
        "webhooks.json",
        json={
            "webhook": {
                "name": "cxlayer",
                "endpoint": "http://127.0.0.1:9/hook",
                "http_method": "POST",
                "request_format": "json",
                "status": "active",
                "subscriptions": ["conditional_ticket_events"],
            }
        },
    )
    assert created.status_code == 201
    webhook = created.json()["webhook"]
    assert "signing_secret" not in webhook
    assert webhook["subscriptions"] == ["conditional_ticket_events"]
    secret = sandbox.api("GET", f"webhooks/{webhook['id']}/signing_secret.json").json()[
        "signing_secret"
    ]
    assert secret["algorithm"] == "SHA256"
    assert len(secret["secret"]) >= 32
    assert sandbox.api("GET", f"webhooks/{webhook['id']}").json()["webhook"]["name"] == "cxlayer"
    put = sandbox.api(
        "PUT",
        f"webhooks/{webhook['id']}",
        json={
            "webhook": {
                "name": "renamed",
                "endpoint": "http://127.0.0.1:9/other",
                "status": "inactive",
            }
        },
    )
    assert put.status_code == 204
    shown = sandbox.api("GET", f"webhooks/{webhook['id']}").json()["webhook"]
    assert (shown["name"], shown["status"]) == ("renamed", "inactive")
    again = sandbox.api("GET", f"webhooks/{webhook['id']}/signing_secret").json()["signing_secret"]
    assert again == secret
    listed = sandbox.api("GET", "webhooks").json()
    assert [w["id"] for w in listed["webhooks"]] == [webhook["id"]]
    assert listed["meta"]["has_more"] is False


def trigger_body(webhook_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "trigger": {
            "title": "cxlayer: ticket updated",
            "conditions": {
                "all": [{"field": "update_type", "operator": "is", "value": "Change"}],
                "any": [],
            },
            "actions": [
                {
                    "field": "notification_webhook",
                    "value": [webhook_id, '{"ticket_id": "{{ticket.id}}"}'],
                }
            ],
            **extra,
        }
    }


def test_triggers_crud_match_the_oas(sandbox: SandboxHandle, checked: Checked) -> None:
    webhook = sandbox.api(
        "POST", "webhooks", json={"webhook": {"name": "w", "endpoint": "http://127.0.0.1:9/"}}
    ).json()["webhook"]
    trigger = checked(sandbox.api("POST", "triggers.json", json=trigger_body(webhook["id"])))[
        "trigger"
    ]
    assert trigger["active"] is True
    checked(sandbox.api("GET", f"triggers/{trigger['id']}.json"))
    updated = checked(
        sandbox.api("PUT", f"triggers/{trigger['id']}.json", json={"trigger": {"active": False}})
    )["trigger"]
    assert updated["active"] is False
    assert checked(sandbox.api("GET", "triggers.json"))["triggers"][0]["id"] == trigger["id"]
    assert checked(sandbox.api("GET", "triggers/active.json"))["triggers"] == []
    assert sandbox.api("DELETE", f"triggers/{trigger['id']}.json").status_code == 204
    assert sandbox.api("GET", f"triggers/{trigger['id']}.json").status_code == 404


def test_trigger_with_unsupported_condition_or_unknown_webhook_is_422(
    sandbox: SandboxHandle,
) -> None:
    webhook = sandbox.api(
        "POST", "webhooks", json={"webhook": {"name": "w", "endpoint": "http://127.0.0.1:9/"}}
    ).json()["webhook"]
    body = trigger_body(webhook["id"])
    body["trigger"]["conditions"]["all"].append(
        {"field": "satisfaction_score", "operator": "is", "value": "good"}
    )
    response = sandbox.api("POST", "triggers.json", json=body)
    assert response.status_code == 422
    assert "satisfaction_score" in response.json()["details"]["conditions"][0]["description"]
    assert sandbox.api("POST", "triggers.json", json=trigger_body("01NOPE")).status_code == 422
    assert sandbox.api("GET", "triggers.json").json()["triggers"] == []


def test_zenpy_manages_fields_statuses_webhooks_and_triggers(
    sandbox_zenpy: Any, sandbox: SandboxHandle
) -> None:
    field = sandbox_zenpy.ticket_fields.create(
        TicketField(
            type="tagger",
            title="Product",
            custom_field_options=[{"name": "Prisma::Buying", "value": "prod_prisma_buying"}],
        )
    )
    assert field.custom_field_options[0].name == "Prisma::Buying"
    status = sandbox_zenpy.custom_statuses.create(
        CustomStatus(status_category="pending", agent_label="Awaiting your reply")
    )
    assert status.status_category == "pending"
    webhook = sandbox_zenpy.webhooks.create(
        Webhook(
            name="cxlayer",
            endpoint="http://127.0.0.1:9/hook",
            http_method="POST",
            request_format="json",
            status="active",
            subscriptions=["conditional_ticket_events"],
        )
    )
    assert [w.id for w in sandbox_zenpy.webhooks.list()] == [webhook.id]
    secret = sandbox_zenpy.webhooks.show_secret(webhook)
    assert secret.secret
    trigger = sandbox_zenpy.triggers.create(
        Trigger(
            title="notify cxlayer",
            conditions={
                "all": [{"field": "update_type", "operator": "is", "value": "Create"}],
                "any": [],
            },
            actions=[
                {"field": "notification_webhook", "value": [webhook.id, '{"id": "{{ticket.id}}"}']}
            ],
        )
    )
    assert [t.id for t in sandbox_zenpy.triggers()] == [trigger.id]
    ticket = sandbox_zenpy.tickets.create(
        Ticket(subject="s", description="d", custom_status_id=status.id)
    ).ticket
    assert ticket.status == "pending"
