"""The support guide's ticket rules, one module per rule, each owning a `router` (see triggers.router).

`RULE_MODULES` is the order rules run in; a later rule's actions win when they are merged, so
the status invariant comes first and rules that choose a status deliberately come after it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

RULE_MODULES = (
    "status_mapping",
    "reserved_types",
    "product_restriction",
    "data_maintenance_approval",
    "managed_by_routing",
    "autosolve_reply",
)


def modules() -> tuple[ModuleType, ...]:
    return tuple(importlib.import_module(f"{__name__}.{name}") for name in RULE_MODULES)
