"""The support guide's ticket rules, one module per rule, each owning a `router` (see triggers.router).

`RULE_MODULES` is the order rules run in. Each rule sees the ticket as the rules before it left
it, so the status invariant comes last: it checks the status the other rules chose.
"""

from __future__ import annotations

import importlib
from types import ModuleType

RULE_MODULES = (
    "reserved_types",
    "product_restriction",
    "data_maintenance_approval",
    "managed_by_routing",
    "status_mapping",
)


def modules() -> tuple[ModuleType, ...]:
    return tuple(importlib.import_module(f"{__name__}.{name}") for name in RULE_MODULES)
