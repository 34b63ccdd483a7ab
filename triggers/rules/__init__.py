"""The support guide's ticket rules, one module per rule, each owning a `router` (see triggers.router).

`RULE_MODULES` is the order rules run in. Each rule sees the ticket as the rules before it left
it, so the status invariant comes last: it checks the status the other rules chose.
"""

from __future__ import annotations

import importlib
from datetime import datetime
from types import ModuleType

from mappings.model import Mappings
from triggers.model import TicketEvent, TicketSnapshot
from triggers.router import Plan, Router, merge_decisions

RULE_MODULES = (
    "reserved_types",
    "product_restriction",
    "data_maintenance_approval",
    "managed_by_routing",
    "status_mapping",
)


def modules() -> tuple[ModuleType, ...]:
    return tuple(importlib.import_module(f"{__name__}.{name}") for name in RULE_MODULES)


def default_router() -> Router:
    """Every shipped rule, in the order of `RULE_MODULES`."""
    return Router(*(module.router for module in modules()))


def decide(
    snapshot: TicketSnapshot,
    event: TicketEvent,
    mappings: Mappings,
    now: datetime,
    router: Router | None = None,
) -> Plan:
    """Dispatch (default: every shipped rule) and merge: the worker's one call into triggers/."""
    decisions = tuple((router or default_router()).dispatch(snapshot, event, mappings, now))
    return Plan(decisions=decisions, actions=merge_decisions(snapshot, decisions, mappings))
