"""The only place that talks to Zendesk: the careful client, provisioning, applying actions."""

from __future__ import annotations

from flask import Flask

from sync.cli import zendesk_cli
from sync.client import TicketChange, TicketResult, UpdateManyReport, ZendeskClient
from sync.factory import BUDGET_EXTENSION, FACTORY_EXTENSION, client_for, default_factory
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
    "BUDGET_EXTENSION",
    "FACTORY_EXTENSION",
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
    "default_factory",
    "idempotent_writes",
    "init_app",
]


def init_app(app: Flask) -> None:
    """Register the Zendesk client factory and the `zendesk` commands."""
    app.extensions.setdefault(FACTORY_EXTENSION, default_factory)
    app.extensions.setdefault(BUDGET_EXTENSION, RateBudget())
    app.cli.add_command(zendesk_cli)
