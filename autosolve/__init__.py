"""The auto-solve job: the nightly sweep (listing, decisions applied through `sync/`, run
records, reports, undo), its CLI and the webhook deciders that keep its clock current.

Decisions are pure and live in `triggers/autosolve.py`; this package is their stateful side.
"""

from __future__ import annotations

from flask import Flask

from autosolve import cli
from autosolve.events import auto_solve_clock_started, needs_comments, reply_after_auto_solve
from webhooks.handler import register_decider


def init_app(app: Flask) -> None:
    """Register `flask sweep ...`, the nightly job and the event handler's auto-solve deciders.

    Order matters: who spoke last and the reply rule first, so the clock (and duplicates,
    registered after this) see the record current.
    """
    cli.register(app)
    register_decider(app, reply_after_auto_solve)
    register_decider(app, auto_solve_clock_started, needs_comments)
