"""Duplicate detection's stateful side: the ticket index, flagging, soft merge and its undo,
agents' feedback, the backfill scan and incremental sync, and their CLI.

The pure scoring lives in `triggers/duplicates/`; Zendesk is reached only through `sync/`.
"""

from __future__ import annotations

from flask import Flask

from duplicates import cli
from duplicates.detection import duplicates_decider
from webhooks.handler import register_decider


def init_app(app: Flask) -> None:
    """Register `flask duplicates ...`, its scheduled jobs and the event handler's decider."""
    cli.register(app)
    register_decider(app, duplicates_decider)
