"""The only place that talks to Zendesk: the careful client, provisioning, applying actions."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app

from mappings import current_mappings
from settings import require_zendesk_credentials
from sync.client import TicketChange, TicketResult, UpdateManyReport, ZendeskClient
from sync.http import (
    OperationMetrics,
    RateBudget,
    RateLimitBudgetExhausted,
    TicketConflict,
    ZendeskApiError,
    ZendeskError,
    ZendeskUnavailable,
    idempotent_writes,
)
from sync.snapshot import ApplyResult, NotProvisioned
from sync.state import DbStateStore, MemoryStateStore, StateStore

__all__ = [
    "ApplyResult",
    "DbStateStore",
    "MemoryStateStore",
    "NotProvisioned",
    "OperationMetrics",
    "RateBudget",
    "RateLimitBudgetExhausted",
    "StateStore",
    "TicketChange",
    "TicketConflict",
    "TicketResult",
    "UpdateManyReport",
    "ZendeskApiError",
    "ZendeskClient",
    "ZendeskError",
    "ZendeskUnavailable",
    "client_for",
    "idempotent_writes",
    "init_app",
]

FACTORY_EXTENSION = "cxlayer.zendesk_client_factory"
BUDGET_EXTENSION = "cxlayer.zendesk_budget"  # the account's rate budget, shared by clients

ClientFactory = Callable[[Flask], ZendeskClient]


def default_factory(app: Flask) -> ZendeskClient:
    """A client from [zendesk] settings, remembering state in the database's `state` table."""
    settings = app.config["CXLAYER"]
    require_zendesk_credentials(settings)
    with app.app_context():
        mappings = current_mappings()
    budget: RateBudget = app.extensions.setdefault(BUDGET_EXTENSION, RateBudget())
    return ZendeskClient.from_settings(
        settings, DbStateStore(app), mappings=mappings, budget=budget
    )


def client_for(app: Flask | None = None) -> ZendeskClient:
    """A new client for this app (cheap: build one per unit of work, e.g. per event or run)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    factory: ClientFactory = app.extensions.get(FACTORY_EXTENSION, default_factory)
    return factory(app)


def init_app(app: Flask) -> None:
    """Register the Zendesk client factory and the `zendesk` commands."""
    from sync.cli import zendesk_cli  # noqa: PLC0415 - cli imports this package's client_for

    app.extensions.setdefault(FACTORY_EXTENSION, default_factory)
    app.extensions.setdefault(BUDGET_EXTENSION, RateBudget())
    app.cli.add_command(zendesk_cli)
