"""Which Zendesk client a unit of work gets: the app's factory (tests swap in their own) and
the account's shared rate budget."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask, current_app

from mappings import current_mappings
from settings import require_zendesk_credentials
from sync.client import SharedLookups, ZendeskClient
from sync.http import RateBudget
from sync.state import DbStateStore

FACTORY_EXTENSION = "cxlayer.zendesk_client_factory"
BUDGET_EXTENSION = "cxlayer.zendesk_budget"  # the account's rate budget, shared by clients
LOOKUPS_EXTENSION = "cxlayer.zendesk_lookups"  # groups, statuses, fields: listed once a while

ClientFactory = Callable[[Flask], ZendeskClient]


def default_factory(app: Flask) -> ZendeskClient:
    """A client from [zendesk] settings, remembering state in the database's `state` table."""
    settings = app.config["CXLAYER"]
    require_zendesk_credentials(settings)
    with app.app_context():
        mappings = current_mappings()
    budget: RateBudget = app.extensions.setdefault(BUDGET_EXTENSION, RateBudget())
    lookups: SharedLookups = app.extensions.setdefault(LOOKUPS_EXTENSION, SharedLookups())
    return ZendeskClient.from_settings(
        settings, DbStateStore(app), mappings=mappings, budget=budget, lookups=lookups
    )


def client_for(app: Flask | None = None) -> ZendeskClient:
    """A new client for this app (cheap: build one per unit of work, e.g. per event or run)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    factory: ClientFactory = app.extensions.get(FACTORY_EXTENSION, default_factory)
    return factory(app)
