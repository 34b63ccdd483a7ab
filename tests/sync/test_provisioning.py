"""Provisioning Zendesk from mappings/: plan, apply, idempotence, prune, the CLI."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import structlog
from flask import Flask

import store
from mappings import DEFAULT_DIR, Mappings, load_mappings
from sandbox.testing import SandboxHandle
from sync import ZendeskClient
from sync.provisioning import (
    APPROVAL_TAG,
    NO_CHANGES,
    RESTART_NOTICE,
    SERVICE_USER_ID,
    TRIGGER_KEYS,
    WEBHOOK_NAME,
    WEBHOOK_PATH,
    WEBHOOK_SIGNING_SECRET,
    ProvisioningError,
    apply,
    build_plan,
)
from sync.state import PROVISIONED
from tests.desk import sandbox_settings, writes
from triggers.model import STATUS_CHANGED, TICKET_CREATED
from webhooks.schema import EventSchema

from .conftest import make_ticket

PUBLIC_URL = "https://cx.example.com"


def _edited_mappings(tmp_path: Path, file: str, old: str, new: str) -> Path:
    directory = tmp_path / "mappings"
    shutil.copytree(DEFAULT_DIR, directory, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    path = directory / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return directory


def test_apply_on_a_fresh_account_creates_everything(
    client: ZendeskClient, mappings: Mappings, zd: SandboxHandle
) -> None:
    report = apply(client, mappings, PUBLIC_URL)
    assert len(report.plan.pending) == len(report.applied) > 0

    statuses = {s["agent_label"]: s for s in client.custom_statuses(refresh=True)}
    for status in mappings.statuses:
        made = statuses[status.agent_label]
        assert made["status_category"] == status.category
        assert made["end_user_label"] == status.end_user_label
        assert made["description"] == status.agent_description
        assert made["end_user_description"] == status.end_user_description

    fields = {f["title"]: f for f in client.ticket_fields(refresh=True)}
    options = {o["value"]: o["name"] for o in fields["Resolution type"]["custom_field_options"]}
    assert options == {t.value: t.option_name for t in mappings.resolution_types}
    assert options["mo_res_code_fix"] == "Defect::Code fix"
    assert options["mo_res_technical"] == "Technical"
    products = {o["value"]: o["name"] for o in fields["Product"]["custom_field_options"]}
    assert products == {p.value: p.name for p in mappings.products}
    assert fields["Duplicate of"]["type"] == "integer"
    assert fields["Auto-solve due"]["type"] == "date"
    assert fields["Data maintenance approved"]["type"] == "checkbox"
    assert fields["Data maintenance approved"]["tag"] == APPROVAL_TAG

    assert {t.zendesk_group for t in mappings.teams} <= {g["name"] for g in client.groups()}

    (webhook,) = client.list_all("/api/v2/webhooks.json", "webhooks")
    assert webhook["name"] == WEBHOOK_NAME
    assert webhook["endpoint"] == PUBLIC_URL + WEBHOOK_PATH
    secret = zd.api("GET", f"webhooks/{webhook['id']}/signing_secret.json").json()
    assert client.state.get(WEBHOOK_SIGNING_SECRET) == secret["signing_secret"]["secret"]
    assert client.state.get(SERVICE_USER_ID) == client.me()["id"]

    every = client.list_all("/api/v2/triggers.json", "triggers")
    tag_keys = {f"status_tag:{s.value}" for s in mappings.statuses} | {"status_tag:none"}
    assert sorted(t["title"].rsplit("[cxlayer:", 1)[1].rstrip("]") for t in every) == sorted(
        [*TRIGGER_KEYS, *tag_keys]
    )
    # The guide's statuses are the category defaults; each has its status-tag trigger.
    defaults = {s["status_category"]: s["id"] for s in client.custom_statuses() if s["default"]}
    recorded = client.state.get(PROVISIONED)
    for category in {s.category for s in mappings.statuses}:
        default = mappings.category_default(category)
        assert default is not None
        assert defaults[category] == recorded["custom_statuses"][default.value]
    tag_triggers = [t for t in every if "status_tag:" in t["title"]]
    for trigger in tag_triggers:
        value = trigger["title"].rsplit("status_tag:", 1)[1].rstrip("]")
        if value == "none":
            assert len(trigger["conditions"]["all"]) == len(mappings.statuses) + 1
            continue
        [condition] = trigger["conditions"]["all"]
        assert condition["value"] == recorded["custom_statuses"][value]
    triggers = [t for t in every if t not in tag_triggers]
    for trigger in triggers:
        (action,) = trigger["actions"]
        assert action["field"] == "notification_webhook"
        assert action["value"][0] == webhook["id"]
        body = json.loads(action["value"][1])
        assert {
            "event",
            "ticket_id",
            "status",
            "custom_status_id",
            "updated_at",
            "requester_id",
            "current_user_id",
        } <= set(body)

    recorded = client.state.get(PROVISIONED)
    assert set(recorded["custom_statuses"]) == {s.value for s in mappings.statuses}
    assert set(recorded["triggers"]) == set(TRIGGER_KEYS) | tag_keys
    assert recorded["webhook"] == webhook["id"]


def test_a_second_apply_reports_no_changes_and_makes_zero_writes(
    provisioned: ZendeskClient, mappings: Mappings, zd: SandboxHandle
) -> None:
    report = apply(provisioned, mappings, zd.base_url)
    assert report.plan.pending == []
    assert report.render().startswith(NO_CHANGES)
    stats = zd.stats()
    assert writes(stats) == {}
    assert stats["total"] <= 8  # five lists, the signing secret, users/me


def test_apply_without_recorded_ids_adopts_the_existing_objects(
    provisioned: ZendeskClient, make_client: Callable[..., ZendeskClient], mappings: Mappings
) -> None:
    """State lost (new database): objects are matched by their stable keys, not duplicated."""
    fresh = make_client()
    plan, _ = build_plan(fresh, mappings, fresh.state.get("x") or "")
    assert [c.kind for c in plan.pending] == ["webhook"]  # only the public URL differs
    assert plan.ids["triggers"] == provisioned.state.get(PROVISIONED)["triggers"]


def test_renaming_a_types_label_shows_exactly_one_change(
    provisioned: ZendeskClient, zd: SandboxHandle, tmp_path: Path
) -> None:
    directory = _edited_mappings(
        tmp_path, "resolution_types.toml", 'name = "Code fix"', 'name = "Code fix deployed"'
    )
    plan, _ = build_plan(provisioned, load_mappings(directory), zd.base_url)
    (change,) = plan.pending
    assert (change.action, change.kind, change.key) == ("update", "ticket_field", "resolution_type")
    assert change.details == [
        "option ~ mo_res_code_fix name: 'Defect::Code fix' → 'Defect::Code fix deployed'"
    ]
    apply(provisioned, load_mappings(directory), zd.base_url)
    field = next(
        f for f in provisioned.ticket_fields(refresh=True) if f["title"] == "Resolution type"
    )
    names = {o["value"]: o["name"] for o in field["custom_field_options"]}
    assert names["mo_res_code_fix"] == "Defect::Code fix deployed"


def _drop_type(tmp_path: Path) -> Mappings:
    """Mappings without the "Training cancelled" type."""
    block = (
        '  [[group.type]]\n  value = "mo_res_training_cancelled"\n  name = "Training cancelled"\n'
        '  definition = "Indicates the requested training was cancelled."\n'
        '  managed_by = "mediaocean_cx"\n\n'
    )
    return load_mappings(_edited_mappings(tmp_path, "resolution_types.toml", block, ""))


def test_options_missing_from_mappings_are_reported_and_kept_without_prune(
    provisioned: ZendeskClient, zd: SandboxHandle, tmp_path: Path
) -> None:
    reduced = _drop_type(tmp_path)
    plan, _ = build_plan(provisioned, reduced, zd.base_url)
    assert plan.pending == []
    (report,) = [c for c in plan.changes if c.action == "report"]
    assert "mo_res_training_cancelled" in report.details[0] and "--prune" in report.details[0]
    apply(provisioned, reduced, zd.base_url)
    assert writes(zd.stats()) == {}


def test_prune_is_refused_while_tickets_use_the_option_and_done_when_none_do(
    provisioned: ZendeskClient, zd: SandboxHandle, tmp_path: Path
) -> None:
    reduced = _drop_type(tmp_path)
    ticket = make_ticket(zd, tags=["mo_res_training_cancelled"])
    zd.reset_stats()
    plan, _ = build_plan(provisioned, reduced, zd.base_url, prune=True)
    assert plan.pending == []
    assert any("prune refused" in d for c in plan.changes for d in c.details)
    apply(provisioned, reduced, zd.base_url, prune=True)
    assert writes(zd.stats()) == {}

    zd.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"tags": []}})
    plan, _ = build_plan(provisioned, reduced, zd.base_url, prune=True)
    (change,) = plan.pending
    assert "option - mo_res_training_cancelled ('Training::Training cancelled') pruned" in (
        change.details
    )
    apply(provisioned, reduced, zd.base_url, prune=True)
    field = next(
        f for f in provisioned.ticket_fields(refresh=True) if f["title"] == "Resolution type"
    )
    assert "mo_res_training_cancelled" not in {o["value"] for o in field["custom_field_options"]}


def test_objects_outside_mappings_are_never_touched(
    client: ZendeskClient, mappings: Mappings, zd: SandboxHandle
) -> None:
    other_field = zd.api(
        "POST", "ticket_fields.json", json={"ticket_field": {"type": "text", "title": "Region"}}
    ).json()["ticket_field"]
    other_group = zd.api("POST", "groups.json", json={"group": {"name": "Billing"}}).json()["group"]
    apply(client, mappings, PUBLIC_URL)
    assert zd.api("GET", f"ticket_fields/{other_field['id']}.json").json()["ticket_field"] == (
        other_field
    )
    assert zd.api("GET", f"groups/{other_group['id']}.json").json()["group"] == other_group


def test_provisioned_triggers_post_events_the_webhook_endpoint_accepts(
    provisioned: ZendeskClient, zd: SandboxHandle
) -> None:
    ticket = make_ticket(zd)
    zd.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "pending"}})
    bodies = [json.loads(d["body"]) for d in zd.deliveries(wait=10)]
    kinds = [b["event"] for b in bodies]
    assert kinds == [TICKET_CREATED, STATUS_CHANGED]
    event = EventSchema().load(bodies[1])
    assert event["ticket_id"] == ticket["id"]
    assert event["status"] == "pending"
    assert event["current_user_id"] == provisioned.me()["id"]
    assert event["custom_status_id"] is not None and event["updated_at"] is not None


# ------------------------------------------------------------------------------ the CLI
def _cli(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["zendesk", *args])


def test_plan_exit_codes_2_with_changes_0_without_1_on_error(
    zd_app: Callable[..., Flask], zd: SandboxHandle
) -> None:
    app = zd_app()
    result = _cli(app, "plan")
    assert result.exit_code == 2, result.output
    assert "+ create trigger" in result.output and "Plan: " in result.output
    assert writes(zd.stats()) == {}

    result = _cli(app, "apply")
    assert result.exit_code == 0, result.output
    assert RESTART_NOTICE in result.output
    with store.session(app) as sess:
        assert store.get_state(sess, store.WEBHOOK_SIGNING_SECRET)
        assert store.get_state(sess, store.SERVICE_USER_ID) == 1000001

    zd.reset_stats()
    result = _cli(app, "plan")
    assert result.exit_code == 0, result.output
    assert NO_CHANGES in result.output
    result = _cli(app, "apply")
    assert result.exit_code == 0 and NO_CHANGES in result.output
    assert writes(zd.stats()) == {}

    broken = zd_app(SETTINGS={"zendesk": {"url": zd.base_url, "email": zd.email, "token": "bad"}})
    result = _cli(broken, "plan")
    assert result.exit_code == 1
    assert "401" in result.output


def test_missing_credentials_exit_1_naming_the_variable(zd_app: Callable[..., Flask]) -> None:
    app = zd_app(SETTINGS={"zendesk": {"token": ""}})
    result = _cli(app, "plan")
    assert result.exit_code == 1
    assert "CXLAYER_ZENDESK_TOKEN" in result.output


def test_secrets_never_reach_the_logs(zd_app: Callable[..., Flask], zd: SandboxHandle) -> None:
    app = zd_app()
    with structlog.testing.capture_logs() as logs:
        assert _cli(app, "apply").exit_code == 0
        assert _cli(app, "plan").exit_code == 0
    with store.session(app) as sess:
        signing_secret = store.get_state(sess, store.WEBHOOK_SIGNING_SECRET)
    text = json.dumps(logs, default=str)
    assert logs and "zendesk operation" in text
    for secret in (zd.token, signing_secret, "Basic ", "Bearer "):
        assert secret not in text


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_commands_are_registered(app: Flask, command: str) -> None:
    result = app.test_cli_runner().invoke(args=["zendesk", command, "--help"])
    assert result.exit_code == 0 and "--prune" in result.output


def test_a_new_public_url_updates_only_the_webhook_and_keeps_its_secret(
    provisioned: ZendeskClient, mappings: Mappings, zd: SandboxHandle
) -> None:
    secret = provisioned.state.get(WEBHOOK_SIGNING_SECRET)
    report = apply(provisioned, mappings, PUBLIC_URL)
    (change,) = report.plan.pending
    assert (change.action, change.kind) == ("update", "webhook")
    assert change.details == [
        f'endpoint: "{zd.base_url}{WEBHOOK_PATH}" → "{PUBLIC_URL}{WEBHOOK_PATH}"'
    ]
    assert writes(zd.stats()) == {"PUT /api/v2/webhooks/<webhook_id>": 1}
    (webhook,) = provisioned.list_all("/api/v2/webhooks.json", "webhooks")
    assert webhook["endpoint"] == PUBLIC_URL + WEBHOOK_PATH
    assert provisioned.state.get(WEBHOOK_SIGNING_SECRET) == secret


def test_a_status_moved_to_another_category_is_refused_before_any_write(
    provisioned: ZendeskClient, zd: SandboxHandle, tmp_path: Path
) -> None:
    directory = _edited_mappings(
        tmp_path,
        "statuses.toml",
        'value = "fixed_pending_rca"\ncustomer_status = "Fixed – Pending RCA"\ncategory = "hold"',
        'value = "fixed_pending_rca"\ncustomer_status = "Fixed – Pending RCA"\ncategory = "open"',
    )
    with pytest.raises(ProvisioningError, match="cannot change category"):
        apply(provisioned, load_mappings(directory), zd.base_url)
    assert writes(zd.stats()) == {}


def test_apply_exits_1_with_the_reason_on_error(zd_app: Callable[..., Flask]) -> None:
    app = zd_app(SETTINGS={"zendesk": {"token": "bad"}})
    result = _cli(app, "apply")
    assert result.exit_code == 1
    assert "401" in result.output


def test_status_tags_follow_the_status_inside_zendesks_own_update(
    provisioned: ZendeskClient, mappings: Mappings, zd: SandboxHandle
) -> None:
    """The provisioned status-tag triggers: an agent's status change carries its tag at once,
    with no write by cxlayer (mirrored tags cost no API call)."""
    ids = provisioned.state.get(PROVISIONED)["custom_statuses"]
    ticket = zd.api(
        "POST", "tickets.json", json={"ticket": {"subject": "s", "comment": {"body": "b"}}}
    ).json()["ticket"]
    for value in ("awaiting_reply", "open_product", "open_cx"):
        zd.reset_stats()
        updated = zd.api(
            "PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"custom_status_id": ids[value]}}
        ).json()["ticket"]
        assert [t for t in updated["tags"] if t.startswith("mo_status_")] == [f"mo_status_{value}"]
        assert writes(zd.stats()) == {"PUT /api/v2/tickets/<int:ticket_id>": 1}
    # A ticket that enters a category with no custom status gets the guide's default and its tag.
    pending = zd.api(
        "PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "pending"}}
    ).json()["ticket"]
    default = mappings.category_default("pending")
    assert default is not None
    assert pending["custom_status_id"] == ids[default.value]
    assert default.tag in pending["tags"]


def test_plan_reports_a_status_added_outside_the_mappings_as_drift(
    provisioned: ZendeskClient, mappings: Mappings, zd: SandboxHandle
) -> None:
    made = zd.api(
        "POST",
        "custom_statuses.json",
        json={
            "custom_status": {
                "status_category": "pending",
                "agent_label": "Pending – waiting on vendor",
            }
        },
    ).json()["custom_status"]
    plan, _ = build_plan(provisioned, mappings, zd.base_url)
    assert plan.pending == []  # reported, never changed
    [drift] = [c for c in plan.changes if c.action == "report" and c.kind == "custom_status"]
    assert drift.object_id == made["id"]
    assert "never remapped nor auto-solved" in drift.render()
    assert "Pending – waiting on vendor" in plan.render()


@pytest.mark.parametrize("command", ["plan", "apply", "adopt"])
def test_a_fresh_database_gets_one_line_naming_the_migration_command(
    make_app: Callable[..., Flask], zd: SandboxHandle, tmp_path: Path, command: str
) -> None:
    """First run with the README's variables, before `db upgrade`: no traceback, no empty
    database left behind, one line saying what to run."""
    app = make_app(SETTINGS=sandbox_settings(zd, public_url=zd.base_url))
    result = _cli(app, command)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "flask --app app db upgrade" in lines[0], result.output
    assert not list(Path(app.instance_path).glob("*.sqlite3"))
    assert writes(zd.stats()) == {}


def test_renaming_a_status_value_is_refused_not_planned_as_no_changes(
    provisioned: ZendeskClient, zd: SandboxHandle, tmp_path: Path
) -> None:
    """A status `value` is permanent (the mo_status_* tag tickets carry): a rename is refused
    with what to do, never "No changes"."""
    directory = _edited_mappings(
        tmp_path, "statuses.toml", 'value = "awaiting_reply"', 'value = "awaiting_client"'
    )
    renamed = load_mappings(directory)
    with pytest.raises(
        ProvisioningError, match="'awaiting_reply' was renamed to 'awaiting_client'"
    ):
        build_plan(provisioned, renamed, zd.base_url)


def test_renaming_a_resolution_type_value_is_a_planned_change(
    provisioned: ZendeskClient, zd: SandboxHandle, tmp_path: Path
) -> None:
    directory = _edited_mappings(
        tmp_path,
        "resolution_types.toml",
        'value = "mo_res_code_fix"',
        'value = "mo_res_code_fixed"',
    )
    plan, _ = build_plan(provisioned, load_mappings(directory), zd.base_url)
    assert plan.pending, plan.render()
    assert "mo_res_code_fix" in plan.render() and NO_CHANGES not in plan.render()
