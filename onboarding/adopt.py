"""Bring every unsolved ticket of an existing account in line with the guide, in bulk.

Run after `zendesk apply`. One search export lists the unsolved tickets; each ticket on one of
Zendesk's own generic statuses (New, Open, Pending, On-hold) gets the guide's default status of
its category (what Zendesk itself gives from now on, since apply made them the defaults) and
its `mo_status_*` tag; a ticket on a mapped status whose tag lags gets its tag. The writes are
safe updates sent through `update_many` (≤100 tickets per call, so N tickets cost at most
ceil(N/100) writes plus listing and job-status reads), with no per-ticket note: nothing a
person chose is undone, and every change is in the audit table and the report. A status an
admin added in Zendesk outside the mappings is never remapped: it is reported as drift.
Then the who-spoke-last record is primed from the ticket-events export (the auto-solve sweep
reads it) and the duplicate index is built from the incremental export.

Resumable: a ticket changed between listing and writing (409) or left by `limit` is simply
listed again by the next run; a run that finds nothing to do writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask

import store
from autosolve.sweep import catch_up_comments
from duplicates.detection import sync_index
from mappings import Mappings, current_mappings
from mappings.model import STATUS_TAG_PREFIX
from sync import TicketChange, ZendeskClient, client_for
from sync.snapshot import Provisioned, snapshot_from_ticket
from triggers.model import TicketSnapshot

RULE = "adopt"
LISTING_QUERY = "type:ticket status<solved"
REASON_GENERIC = (
    "Zendesk's generic “{old}” status: set to the support guide's status for {category} tickets"
)
REASON_TAGS = "status tag brought in step with the status “{label}”"
REASON_DRIFT = (
    "status “{old}” was added in Zendesk outside the mappings: left alone (never remapped nor "
    "auto-solved) until the mappings say what it means"
)


class AdoptError(Exception):
    """Adoption cannot start (e.g. the account is not provisioned yet)."""


@dataclass
class TicketOutcome:
    ticket_id: int
    action: str  # "changed" | "would change" | "left alone" | "conflict" | "error" | "deferred"
    reason: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)


@dataclass
class AdoptResult:
    dry_run: bool
    listed: int = 0
    outcomes: list[TicketOutcome] = field(default_factory=list)
    writes: int = 0  # update_many calls
    api_calls: int = 0
    comments_primed: bool = False
    duplicates_indexed: int | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)


def plan_ticket(
    snapshot: TicketSnapshot, mappings: Mappings, labels: dict[int, str]
) -> tuple[dict[str, Any], TicketOutcome] | None:
    """The change one ticket needs (Zendesk attributes) and its report line; None when none."""
    old = labels.get(snapshot.custom_status_id or -1, "none")
    if snapshot.custom_status is None and snapshot.foreign_status:
        return {}, TicketOutcome(
            snapshot.id, "left alone", REASON_DRIFT.format(old=old), {"status": old}
        )
    current = mappings.status(snapshot.custom_status) if snapshot.custom_status else None
    target = current
    reason = ""
    if current is None or current.category != snapshot.status:
        target = mappings.category_default(snapshot.status)
        if target is None:
            return None
        reason = REASON_GENERIC.format(old=old, category=snapshot.status)
    assert target is not None  # noqa: S101 - narrowed above
    stale = sorted(t for t in snapshot.tags if t.startswith(STATUS_TAG_PREFIX) and t != target.tag)
    changes: dict[str, Any] = {}
    if target is not current:
        changes["status_value"] = target.value
    if target.tag not in snapshot.tags:
        changes["additional_tags"] = [target.tag]
    if stale:
        changes["remove_tags"] = stale
    if not changes:
        return None
    return changes, TicketOutcome(
        snapshot.id,
        "would change",
        reason or REASON_TAGS.format(label=target.agent_label),
        {
            "status": old,
            "tags": sorted(t for t in snapshot.tags if t.startswith(STATUS_TAG_PREFIX)),
        },
        {"status": target.agent_label, "tags": [target.tag]},
    )


def adopt(
    app: Flask,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    client: ZendeskClient | None = None,
) -> AdoptResult:
    """See the module docstring. `limit` caps the tickets changed in this run (the rest are
    reported as deferred and picked up by the next run)."""
    client = client or client_for(app)
    result = AdoptResult(dry_run=dry_run)
    with app.app_context():
        mappings = current_mappings()
    with client.operation("zendesk adopt") as metrics:
        provisioned = Provisioned.load(client)
        if not provisioned.custom_statuses:
            raise AdoptError(
                "the account is not provisioned: run `flask --app app zendesk apply` first"
            )
        labels = {int(s["id"]): str(s.get("agent_label")) for s in client.custom_statuses()}
        groups = {int(g["id"]): str(g["name"]) for g in client.groups()}
        changes: list[TicketChange] = []
        planned: dict[int, TicketOutcome] = {}
        for raw in client.search_export(LISTING_QUERY):
            result.listed += 1
            snapshot = snapshot_from_ticket(raw, provisioned, groups)
            decided = plan_ticket(snapshot, mappings, labels)
            if decided is None:
                continue
            attributes, outcome = decided
            result.outcomes.append(outcome)
            if not attributes:
                continue
            if limit is not None and len(changes) >= limit:
                outcome.action = "deferred"
                continue
            value = attributes.pop("status_value", None)
            if value is not None:
                attributes["custom_status_id"] = provisioned.status_id(value)
            changes.append(TicketChange(snapshot.id, attributes, snapshot.updated_stamp))
            planned[snapshot.id] = outcome
        if not dry_run and changes:
            report = client.update_many(changes)
            result.writes = report.requests
            for item in report.results:
                outcome = planned[item.ticket_id]
                outcome.action = "changed" if item.outcome == "ok" else item.outcome
                if item.outcome != "ok":
                    outcome.reason += f" (not written: {item.error}; the next run retries)"
            _audit(app, [planned[i.ticket_id] for i in report.results if i.outcome == "ok"])
        if not dry_run:
            me = int(client.me()["id"])
            _overlay, result.comments_primed = catch_up_comments(
                app, client, persist=True, service_ids=frozenset({me})
            )
            result.duplicates_indexed = sync_index(app, client=client).indexed
    result.api_calls = metrics.calls
    return result


def _audit(app: Flask, outcomes: list[TicketOutcome]) -> None:
    with store.session(app) as session:
        for outcome in outcomes:
            store.record_audit(
                session,
                ticket_id=outcome.ticket_id,
                rule=RULE,
                action="set_custom_status"
                if outcome.before.get("status") != outcome.after.get("status")
                else "add_tags",
                reason=outcome.reason,
                invocation_id=None,
                before=outcome.before,
                after=outcome.after,
                api_result="ok: update_many",
            )


def report_of(result: AdoptResult) -> dict[str, Any]:
    return {
        "command": "zendesk adopt" + (" --dry-run" if result.dry_run else ""),
        "started_at": result.started_at.isoformat(),
        "dry_run": result.dry_run,
        "listed": result.listed,
        "changed": result.count("changed"),
        "would_change": result.count("would change"),
        "left_alone": result.count("left alone"),
        "deferred": result.count("deferred"),
        "conflicts": result.count("conflict"),
        "errors": result.count("error"),
        "update_many_calls": result.writes,
        "api_calls": result.api_calls,
        "who_spoke_last_primed": result.comments_primed,
        "duplicate_index_tickets": result.duplicates_indexed,
        "tickets": [
            {
                "ticket_id": o.ticket_id,
                "action": o.action,
                "reason": o.reason,
                "before": o.before,
                "after": o.after,
            }
            for o in sorted(result.outcomes, key=lambda o: o.ticket_id)
        ],
    }


def default_report_path(app: Flask, result: AdoptResult) -> Path:
    stamp = result.started_at.strftime("%Y%m%dT%H%M%SZ")
    suffix = "-dry-run" if result.dry_run else ""
    return Path(app.instance_path) / "reports" / f"adopt-{stamp}{suffix}.json"
