"""`zendesk adopt` on a seeded account (the demo seed: tickets on Zendesk's generic statuses),
through the real CLI command on the sandbox."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from mappings import Mappings
from sandbox.testing import SandboxHandle, run_sandbox
from store.testing import db_app, make_db_app, test_database_url  # noqa: F401 -- fixtures
from sync import client_for
from sync.provisioning import apply
from sync.snapshot import Provisioned
from tests.desk import sandbox_settings, writes

pytestmark = pytest.mark.integration

SEED_SIZE = 160


@pytest.fixture
def seeded() -> Iterator[SandboxHandle]:
    with run_sandbox(seed=SEED_SIZE) as handle:
        yield handle


@pytest.fixture
def app(make_db_app: Callable[..., Flask], seeded: SandboxHandle, mappings: Mappings) -> Flask:  # noqa: F811
    application = make_db_app(SETTINGS=sandbox_settings(seeded, seeded.base_url + "/nowhere"))
    with client_for(application) as client:
        apply(client, mappings, seeded.base_url + "/nowhere")
    return application


def unsolved(zd: SandboxHandle) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    url: str | None = "tickets.json?per_page=100"
    while url:
        page = zd.api("GET", url).json()
        out += [t for t in page["tickets"] if t["status"] not in ("solved", "closed")]
        url = page["next_page"].split("/api/v2/", 1)[1] if page["next_page"] else None
    return out


def run_adopt(app: Flask, *args: str) -> Any:
    result = app.test_cli_runner().invoke(args=["zendesk", "adopt", *args])
    assert result.exit_code == 0, result.output
    return result


def test_adopt_brings_every_unsolved_ticket_in_line_in_bulk_and_again_changes_nothing(
    app: Flask, seeded: SandboxHandle, mappings: Mappings, tmp_path: Path
) -> None:
    with client_for(app) as client:
        provisioned = Provisioned.load(client)
    ours = set(provisioned.custom_statuses.values())
    before = unsolved(seeded)
    generic = [t for t in before if t["custom_status_id"] not in ours]
    assert len(generic) > 100  # more than one bulk call's worth

    dry = run_adopt(app, "--dry-run", "--report", str(tmp_path / "dry.json"))
    assert "would change" in dry.output
    assert unsolved(seeded) == before  # a dry run writes nothing
    dry_report = json.loads((tmp_path / "dry.json").read_text())
    assert dry_report["would_change"] >= len(generic)

    seeded.reset_stats()
    run_adopt(app, "--report", str(tmp_path / "adopt.json"))
    report = json.loads((tmp_path / "adopt.json").read_text())
    assert (tmp_path / "adopt.html").read_text().startswith("<!doctype html>")
    changed = report["changed"]
    assert changed >= len(generic)
    assert writes(seeded.stats()) == {"PUT /api/v2/tickets/update_many": math.ceil(changed / 100)}
    by_value = {v: k for k, v in provisioned.custom_statuses.items()}
    for ticket in unsolved(seeded):
        value = by_value.get(ticket["custom_status_id"])
        assert value is not None, ticket
        status = mappings.status(value)
        assert status.category == ticket["status"]
        assert [t for t in ticket["tags"] if t.startswith("mo_status_")] == [status.tag]
    # No per-ticket notes: nothing a person chose was undone (the audit and report have it).
    for ticket in generic[:10]:
        comments = seeded.api("GET", f"tickets/{ticket['id']}/comments.json").json()["comments"]
        assert len(comments) == len(
            [c for c in comments if c["created_at"] <= ticket["updated_at"]]
        )
    assert report["who_spoke_last_primed"] is True
    assert report["duplicate_index_tickets"] > 0
    assert {t["action"] for t in report["tickets"]} == {"changed"}
    assert all(t["reason"] for t in report["tickets"])

    seeded.reset_stats()
    again = run_adopt(app, "--report", str(tmp_path / "again.json"))
    assert json.loads((tmp_path / "again.json").read_text())["changed"] == 0
    assert writes(seeded.stats()) == {}
    assert "0 changed" in again.output


def test_adopt_leaves_a_status_added_outside_the_mappings_alone_and_reports_it(
    app: Flask, seeded: SandboxHandle, tmp_path: Path
) -> None:
    vendor = seeded.api(
        "POST",
        "custom_statuses.json",
        json={
            "custom_status": {
                "status_category": "pending",
                "agent_label": "Pending – waiting on vendor",
            }
        },
    ).json()["custom_status"]
    ticket = unsolved(seeded)[0]
    seeded.api(
        "PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"custom_status_id": vendor["id"]}}
    )
    run_adopt(app, "--report", str(tmp_path / "adopt.json"))
    report = json.loads((tmp_path / "adopt.json").read_text())
    [line] = [t for t in report["tickets"] if t["ticket_id"] == ticket["id"]]
    assert line["action"] == "left alone"
    assert "outside the mappings" in line["reason"]
    after = seeded.api("GET", f"tickets/{ticket['id']}.json").json()["ticket"]
    assert after["custom_status_id"] == vendor["id"]


def test_adopt_before_apply_says_which_command_to_run(
    make_db_app: Callable[..., Flask],  # noqa: F811
    seeded: SandboxHandle,
) -> None:
    application = make_db_app(SETTINGS=sandbox_settings(seeded))
    result = application.test_cli_runner().invoke(args=["zendesk", "adopt"])
    assert result.exit_code == 1
    assert "zendesk apply" in result.output
    assert "Traceback" not in result.output
