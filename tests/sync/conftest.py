"""Fixtures for sync/ tests: a fresh sandbox per test, clients on it, a provisioned account."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from mappings import Mappings
from sandbox.testing import SandboxHandle
from store.testing import db_app, make_db_app, test_database_url  # noqa: F401 -- fixtures
from sync import MemoryStateStore, ZendeskClient
from sync.provisioning import apply
from tests.desk import sandbox_settings


@pytest.fixture
def make_client(zd: SandboxHandle, mappings: Mappings) -> Callable[..., ZendeskClient]:
    """Clients on the sandbox (real zenpy, real HTTP) with fast job polling; kwargs override."""

    def factory(**kwargs: Any) -> ZendeskClient:
        kwargs.setdefault("state", MemoryStateStore())
        kwargs.setdefault("poll_initial_seconds", 0.01)
        kwargs.setdefault("poll_max_seconds", 0.1)
        kwargs.setdefault("mappings", mappings)
        kwargs.setdefault("subdomain", zd.subdomain)
        kwargs.setdefault("email", zd.email)
        kwargs.setdefault("token", zd.token)
        kwargs.setdefault("url", zd.base_url)
        return ZendeskClient(**kwargs)

    return factory


@pytest.fixture
def client(make_client: Callable[..., ZendeskClient]) -> ZendeskClient:
    return make_client()


@pytest.fixture
def provisioned(client: ZendeskClient, mappings: Mappings, zd: SandboxHandle) -> ZendeskClient:
    """The client after `apply` on the fresh account (its state holds the provisioned ids)."""
    apply(client, mappings, zd.base_url)
    zd.reset_stats()
    return client


def make_ticket(zd: SandboxHandle, **fields: Any) -> dict[str, Any]:
    """Create a ticket as the sandbox admin (outside the client under test)."""
    body = {
        "subject": "Cannot open the media plan",
        "comment": {"body": "It fails since this morning."},
        "requester": {"name": "Rita Requester", "email": "rita@example.com"},
        **fields,
    }
    response = zd.api("POST", "tickets.json", json={"ticket": body})
    response.raise_for_status()
    ticket: dict[str, Any] = response.json()["ticket"]
    return ticket


def api_calls(stats: dict[str, Any]) -> dict[str, int]:
    """API endpoints with their counts, without webhook deliveries to the sandbox's own
    address (those show up as `<unmatched>`)."""
    return {k: v for k, v in stats["endpoints"].items() if "/api/" in k}


@pytest.fixture
def zd_app(
    make_db_app: Callable[..., Flask],  # noqa: F811 -- the store fixture, used here
    zd: SandboxHandle,
) -> Callable[..., Flask]:
    """Apps (on one migrated database) configured for the sandbox; SETTINGS given are merged
    per section over the sandbox settings, other kwargs are more overrides."""

    def factory(**overrides: Any) -> Flask:
        settings = sandbox_settings(zd, public_url=zd.base_url)
        for section, values in overrides.pop("SETTINGS", {}).items():
            settings.setdefault(section, {}).update(values)
        return make_db_app(SETTINGS=settings, **overrides)

    return factory
