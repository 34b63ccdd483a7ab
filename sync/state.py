"""Where sync/ keeps what it must remember between runs (cursors, provisioned ids, secrets).

A tiny get/set interface so the client does not care about storage: `DbStateStore` uses the
`state` table of store/ (the service's default), `MemoryStateStore` serves benchmarks and
one-off scripts.
"""

from __future__ import annotations

from typing import Any, Protocol

from flask import Flask

import store

PROVISIONED = "zendesk.provisioned"  # {"custom_statuses": {value: id}, "fields": {key: id}, ...}
INCREMENTAL_TICKETS_CURSOR = "zendesk.incremental_tickets_cursor"
TICKET_EVENTS_START = "zendesk.ticket_events_start_time"


class StateStore(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...


class MemoryStateStore:
    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self.values: dict[str, Any] = dict(initial or {})

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


class DbStateStore:
    """The `state` table; every set is its own short transaction (safe between processes)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def get(self, key: str, default: Any = None) -> Any:
        # Read-only: on SQLite a plain session would take the write lock for a read.
        with store.session(self.app, readonly=True) as sess:
            return store.get_state(sess, key, default)

    def set(self, key: str, value: Any) -> None:
        with store.session(self.app) as sess:
            store.set_state(sess, key, value)
