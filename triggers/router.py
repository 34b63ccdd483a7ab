"""Routes a ticket event to the guide's rules, and combines and simulates their actions. No I/O.

In the style of gidgethub's `Router` as bedevere uses it: each rule module in `triggers/rules/`
owns a `router` and registers its rule with `@router.register(KIND, ...)`; `default_router()`
combines the modules listed in `triggers.rules.RULE_MODULES`. Adding a rule is one new module
(plus its fixture tests) and one line in that list.

Loop safety: the service's own updates fire the Zendesk triggers too. An event whose actor is
the service's own user (`event.by_service`) reaches only rules registered with
`on_service_events=True` (status mapping alone: see its docstring), and every rule reaches a
fixed point: applying its actions and running the rules again on the result yields nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from mappings.model import STATUS_TAG_PREFIX, Mappings
from triggers.model import (
    CHECKBOX_TAGS,
    EVENT_KINDS,
    FIELD_PRODUCT,
    FIELD_RESOLUTION_TYPE,
    Action,
    AddTags,
    AssignGroup,
    Comment,
    Decision,
    FieldValue,
    InternalNote,
    PublicComment,
    RemoveTags,
    SetCustomStatus,
    SetField,
    TicketEvent,
    TicketSnapshot,
)

Rule = Callable[[TicketSnapshot, TicketEvent, Mappings, datetime], "Decision | None"]

# Fields whose option values are also the ticket's tags (Zendesk "tagger" fields): changing
# the field swaps the tag, as Zendesk does and as sync/ mirrors in the update it sends.
TAGGER_FIELDS = (FIELD_RESOLUTION_TYPE, FIELD_PRODUCT)
# Author id given to the simulated comments of `apply_actions` (no Zendesk user has id 0).
SIMULATED_AUTHOR_ID = 0
NOTE_JOINER = "\n\n"
# Zendesk refuses updates to closed tickets, so no rule is asked about them.
FROZEN_STATUSES = frozenset({"closed"})
STATE_CHANGING = (SetCustomStatus, SetField, AddTags, RemoveTags, AssignGroup)


@dataclass(frozen=True)
class Registration:
    """One rule on a router: which event kinds reach it and how."""

    rule: Rule
    name: str
    kinds: frozenset[str]
    on_service_events: bool = False
    needs_comments: frozenset[str] = frozenset()


class Router:
    """Event kind → rules, in registration order (a later rule's actions win in a merge)."""

    def __init__(self, *others: Router) -> None:
        self._registrations: list[Registration] = []
        for other in others:
            for registration in other.registrations:
                self._add(registration)

    @property
    def registrations(self) -> tuple[Registration, ...]:
        return tuple(self._registrations)

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self._registrations)

    def _add(self, registration: Registration) -> None:
        if registration.name in self.rule_names:
            raise ValueError(f"rule {registration.name!r} is registered twice")
        self._registrations.append(registration)

    def register(
        self,
        *kinds: str,
        on_service_events: bool = False,
        needs_comments: Iterable[str] = (),
        name: str | None = None,
    ) -> Callable[[Rule], Rule]:
        """Decorator: run the rule for events of these kinds (at least one, from EVENT_KINDS).

        `on_service_events`: also for events the service's own updates caused (see loop safety).
        `needs_comments`: kinds for which the rule reads `snapshot.comments`, so the caller
        fetches them (see `needs_comments`).
        """
        wanted = frozenset(kinds)
        comment_kinds = frozenset(needs_comments)
        unknown = sorted((wanted | comment_kinds) - set(EVENT_KINDS))
        if not wanted or unknown:
            raise ValueError(
                f"register() needs event kinds from {EVENT_KINDS}; got {sorted(wanted)}"
                + (f" (unknown: {unknown})" if unknown else "")
            )
        if not comment_kinds <= wanted:
            raise ValueError("needs_comments names kinds the rule is not registered for")

        def decorator(rule: Rule) -> Rule:
            self._add(
                Registration(
                    rule=rule,
                    name=name or rule.__module__.rsplit(".", 1)[-1],
                    kinds=wanted,
                    on_service_events=on_service_events,
                    needs_comments=comment_kinds,
                )
            )
            return rule

        return decorator

    def rules_for(self, event: TicketEvent) -> tuple[Registration, ...]:
        return tuple(
            r
            for r in self._registrations
            if event.kind in r.kinds and (r.on_service_events or not event.by_service)
        )

    def needs_comments(self, kind: str, *, by_service: bool = False) -> bool:
        """Whether a caller must read the ticket's comments into the snapshot for this event."""
        return any(
            kind in r.needs_comments and (r.on_service_events or not by_service)
            for r in self._registrations
        )

    def dispatch(
        self, snapshot: TicketSnapshot, event: TicketEvent, mappings: Mappings, now: datetime
    ) -> list[Decision]:
        """The decisions of every rule for this event that has something to do, in order.

        Each rule sees the ticket as the rules before it left it (their actions applied with
        `apply_actions`), so no rule decides, or writes a note about, a change that a rule
        before it has already made or made moot: e.g. status mapping, last, finds nothing to
        fix after the approval rule set "Awaiting your reply".

        Raises ValueError when the event is not about the snapshot's ticket or is of an
        unknown kind (the inbox stores unknown kinds as ignored; they never reach here).
        """
        if event.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {event.kind!r}")
        if event.ticket_id != snapshot.id:
            raise ValueError(
                f"event {event.invocation_id!r} is about ticket {event.ticket_id}, "
                f"not ticket {snapshot.id}"
            )
        if snapshot.status in FROZEN_STATUSES:
            return []
        decisions: list[Decision] = []
        current = snapshot
        for registration in self.rules_for(event):
            decision = registration.rule(current, event, mappings, now)
            if decision is not None and decision.actions:
                decisions.append(decision)
                current = apply_actions(current, decision.actions, mappings, now)
        return decisions


def is_state_changing(action: Action) -> bool:
    return isinstance(action, STATE_CHANGING)


# --- combining and simulating actions -----------------------------------------------------


def _status_tags(tags: set[str], value: str) -> None:
    """Exactly one mo_status_* tag, the one of `value` (sync/ does the same on a status change)."""
    for tag in [t for t in tags if t.startswith(STATUS_TAG_PREFIX)]:
        tags.discard(tag)
    tags.add(STATUS_TAG_PREFIX + value)


def _field_tags(tags: set[str], key: str, old: FieldValue, new: FieldValue) -> None:
    if key in CHECKBOX_TAGS:
        (tags.add if new is True else tags.discard)(CHECKBOX_TAGS[key])
        return
    if key not in TAGGER_FIELDS:
        return
    if isinstance(old, str) and old:
        tags.discard(old)
    if isinstance(new, str) and new:
        tags.add(new)


def _final_tags(snapshot: TicketSnapshot, actions: Sequence[Action]) -> set[str]:
    """The tags after these actions, with the side effects Zendesk and sync/ give them."""
    tags = set(snapshot.tags)
    fields = dict(snapshot.fields)
    for action in actions:
        if isinstance(action, SetCustomStatus):
            _status_tags(tags, action.value)
        elif isinstance(action, SetField):
            _field_tags(tags, action.key, fields.get(action.key), action.value)
            fields[action.key] = action.value
        elif isinstance(action, AddTags):
            tags.update(action.tags)
        elif isinstance(action, RemoveTags):
            tags.difference_update(action.tags)
    return tags


def _status_fits(snapshot: TicketSnapshot, mappings: Mappings | None) -> bool:
    known = {s.value: s.category for s in mappings.statuses} if mappings else {}
    return known.get(snapshot.custom_status or "") == snapshot.status


def merge_decisions(
    snapshot: TicketSnapshot, decisions: Sequence[Decision], mappings: Mappings | None = None
) -> tuple[Action, ...]:
    """The actions of several decisions as one update: what sync/ sends as one safe update.

    Later actions win for the custom status, each field and the group; tags are reconciled
    into one RemoveTags and one AddTags giving the same end state as applying every action in
    order (status and tagger-field tags included); changes that leave the ticket as it is are
    dropped; each decision's notes become one paragraph of a single internal note and public
    comments are joined likewise. Order: status, fields, group, tags, note, comment.
    Decisions that are all bookkeeping (mirrored tags) give no actions: nothing is written.
    """
    if all(d.bookkeeping for d in decisions):
        return ()  # only mirrored tags: they wait for a write that happens anyway
    actions = [a for d in decisions for a in d.actions]
    status: str | None = None
    fields: dict[str, FieldValue] = {}
    group: AssignGroup | None = None
    for action in actions:
        if isinstance(action, SetCustomStatus):
            status = action.value
        elif isinstance(action, SetField):
            fields.pop(action.key, None)  # keep the order of the last write
            fields[action.key] = action.value
        elif isinstance(action, AssignGroup):
            group = action
    merged: list[Action] = []
    # Writing the current status again is a no-op only when it fits the ticket's category;
    # without mappings to tell, it is kept (sync/ sends no change for an equal id anyway).
    if status is not None and not (
        status == snapshot.custom_status and _status_fits(snapshot, mappings)
    ):
        merged.append(SetCustomStatus(status))
    merged += [SetField(k, v) for k, v in fields.items() if snapshot.field(k) != v]
    if group is not None:
        merged.append(group)
    # Every action in its order, then the status tag of the status that won: an earlier
    # rule's tag for a status a later rule replaced must not survive the merge.
    tags = _final_tags(snapshot, actions)
    if status is not None:
        _status_tags(tags, status)
    removed = tuple(sorted(snapshot.tags - tags))
    added = tuple(sorted(tags - snapshot.tags))
    if removed:
        merged.append(RemoveTags(removed))
    if added:
        merged.append(AddTags(added))
    notes = [
        " ".join(a.body for a in d.actions if isinstance(a, InternalNote))
        for d in decisions
        if any(isinstance(a, InternalNote) for a in d.actions)
    ]
    if notes:
        merged.append(InternalNote(NOTE_JOINER.join(notes)))
    comments = [a.body for a in actions if isinstance(a, PublicComment)]
    if comments:
        merged.append(PublicComment(NOTE_JOINER.join(comments)))
    return tuple(merged)


def apply_actions(
    snapshot: TicketSnapshot,
    actions: Iterable[Action],
    mappings: Mappings,
    now: datetime | None = None,
) -> TicketSnapshot:
    """The ticket as it would read after Zendesk applied these actions (for tests and proofs).

    A custom status brings its category; tagger fields swap their tags and checkbox fields
    add or remove theirs (`CHECKBOX_TAGS`); notes and comments
    are appended as comments by `SIMULATED_AUTHOR_ID` (an agent) at `now` (default: just
    after the latest comment). `mappings` gives each custom status its category and each
    team its Zendesk group.
    """
    actions = tuple(actions)
    tags = _final_tags(snapshot, actions)
    status, custom_status = snapshot.status, snapshot.custom_status
    fields = dict(snapshot.fields)
    group = snapshot.group
    comments = list(snapshot.comments)
    latest = max(
        (c.created_at for c in comments),
        default=snapshot.created_at or datetime(2000, 1, 1, tzinfo=UTC),
    )
    at = now or latest.replace(tzinfo=latest.tzinfo or UTC)
    for action in actions:
        if isinstance(action, SetCustomStatus):
            known = {s.value: s for s in mappings.statuses}
            if action.value not in known:
                raise ValueError(f"custom status {action.value!r} is not in mappings/statuses.toml")
            custom_status = action.value
            status = known[action.value].category
        elif isinstance(action, SetField):
            fields[action.key] = action.value
        elif isinstance(action, AssignGroup):
            teams = {t.key: t for t in mappings.teams}
            if action.team not in teams:
                raise ValueError(f"team {action.team!r} is not in mappings/teams.toml")
            group = teams[action.team].zendesk_group
        elif isinstance(action, InternalNote | PublicComment):
            comments.append(
                Comment(
                    author_id=SIMULATED_AUTHOR_ID,
                    public=isinstance(action, PublicComment),
                    created_at=at,
                    body=action.body,
                    author_is_agent=True,
                )
            )
    return replace(
        snapshot,
        status=status,
        custom_status=custom_status,
        tags=frozenset(tags),
        fields=fields,
        group=group,
        comments=tuple(comments),
    )


@dataclass(frozen=True)
class Plan:
    """What the rules decided for one event, and the one update that carries it out."""

    decisions: tuple[Decision, ...]
    actions: tuple[Action, ...]  # merge_decisions of `decisions`: sync/ sends these as one update


@dataclass(frozen=True)
class AuditRecord:
    """One action for the audit trail (store.record_audit): JSON-ready before → after."""

    rule: str
    action: str  # the action's kind, e.g. "set_custom_status"
    reason: str
    before: object
    after: object


def _jsonable(value: FieldValue) -> object:
    return value.isoformat() if isinstance(value, date) else value


def audit_records(
    snapshot: TicketSnapshot, decisions: Sequence[Decision], mappings: Mappings
) -> list[AuditRecord]:
    """Each decision's actions, in order, with the value before (the ticket as the actions
    before it left it) and after; notes and comments have their text."""
    records: list[AuditRecord] = []
    current = snapshot
    for decision in decisions:
        for action in decision.actions:
            before: object
            after: object
            if isinstance(action, SetCustomStatus):
                before, after = current.custom_status, action.value
            elif isinstance(action, SetField):
                before = _jsonable(current.field(action.key))
                after = _jsonable(action.value)
                before, after = {action.key: before}, {action.key: after}
            elif isinstance(action, AddTags | RemoveTags):
                before = sorted(current.tags)
                after = sorted(_final_tags(current, (action,)))
            elif isinstance(action, AssignGroup):
                before, after = current.group, mappings.team(action.team).zendesk_group
            else:
                before, after = None, action.body
            records.append(AuditRecord(decision.rule, action.kind, decision.reason, before, after))
            current = apply_actions(current, (action,), mappings)
    return records
