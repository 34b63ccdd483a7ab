"""Product restriction: a resolution type limited to some products is cleared on other products.

Implements the guide's "Professional Services Definition": "Configuration request — ...
For use with Lumina only", as mappings/resolution_types.toml's `products = ["lumina"]` (any
type with `products` is treated alike). The type is cleared with an internal note citing the
rule when the ticket's Product is another product, and also when no Product is set on a
solved ticket (nothing shows the type is allowed, and the ticket would stay solved on it).
While an unsolved ticket has no Product yet, the type is left: the agent may still set it.

A ticket solved with the cleared type is reopened with the open category's default status
("Open – with CX"), so it is never left solved without a valid resolution type.
"""

from __future__ import annotations

from datetime import datetime

from mappings.model import Mappings
from triggers import texts
from triggers.model import (
    EVENT_KINDS,
    FIELD_PRODUCT,
    FIELD_RESOLUTION_TYPE,
    Action,
    Decision,
    InternalNote,
    SetCustomStatus,
    SetField,
    TicketEvent,
    TicketSnapshot,
)
from triggers.router import Router
from triggers.rules._common import SOLVED_CATEGORY, open_status, reopened_text, resolution_type

RULE = "product_restriction"
router = Router()


# Every kind: the type may be set first and the product changed later (fields_changed).
@router.register(*EVENT_KINDS)
def product_restriction(
    snapshot: TicketSnapshot, event: TicketEvent, mappings: Mappings, now: datetime
) -> Decision | None:
    """Clear a resolution type whose `products` excludes the ticket's product."""
    rtype = resolution_type(snapshot, mappings)
    if rtype is None or not rtype.products:
        return None
    raw = snapshot.field(FIELD_PRODUCT)
    product = mappings.product(raw) if isinstance(raw, str) and raw else None
    if product is not None and product.key in rtype.products:
        return None
    if product is None and not raw and snapshot.status != SOLVED_CATEGORY:
        return None
    actions: list[Action] = [SetField(FIELD_RESOLUTION_TYPE, None)]
    if snapshot.status == SOLVED_CATEGORY:
        actions.append(SetCustomStatus(open_status(mappings).value))
    allowed = [p.name for key in rtype.products if (p := mappings.product(key)) is not None]
    if product is not None:
        product_text = f"“{product.name}”"
    elif raw:
        product_text = f"“{raw}” (not in mappings/products.toml)"
    else:
        product_text = texts.NOT_SET
    note = texts.PRODUCT_UNDO_NOTE.format(
        option=rtype.option_name,
        allowed=texts.join_names(allowed),
        definition=rtype.definition,
        product=product_text,
        reopened=reopened_text(snapshot, mappings),
    )
    actions.append(InternalNote(note))
    return Decision(rule=RULE, reason=texts.PRODUCT_REASON, actions=tuple(actions))
