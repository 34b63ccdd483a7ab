"""Immutable domain objects for the support guide's statuses, resolution types, teams, products."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

CATEGORIES = ("new", "open", "pending", "hold", "solved")
CUSTOMER_STATUSES = ("Open", "Awaiting your reply", "Fixed – Pending RCA", "Solved")
MANAGED_BY = ("client", "mediaocean_cx", "account_management", "third_party")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STATUS_TAG_PREFIX = "mo_status_"


@dataclass(frozen=True)
class Status:
    """One Zendesk custom status and the guide's customer-facing status it shows as."""

    value: str
    customer_status: str
    category: str
    category_default: bool
    agent_label: str
    agent_description: str
    end_user_label: str
    end_user_description: str

    @property
    def tag(self) -> str:
        return STATUS_TAG_PREFIX + self.value


@dataclass(frozen=True)
class ResolutionType:
    """One selectable resolution; `value` is its Zendesk tag and never changes once shipped."""

    value: str
    group: str
    name: str
    definition: str
    managed_by: str
    requires_data_maintenance_approval: bool = False
    products: tuple[str, ...] = ()
    assign_team: str | None = None
    reserved_for: str | None = None

    @property
    def option_name(self) -> str:
        """The Zendesk nested-dropdown name: "Group::Type", or the group alone for a leaf group."""
        return self.group if self.name == self.group else f"{self.group}::{self.name}"


@dataclass(frozen=True)
class ResolutionGroup:
    key: str
    name: str
    types: tuple[ResolutionType, ...]


@dataclass(frozen=True)
class Team:
    """A support team: its Zendesk group, hours and public-holiday calendar."""

    key: str
    name: str
    zendesk_group: str
    timezone: str
    days: tuple[str, ...]
    start: time
    end: time
    holiday_country: str
    holiday_subdivision: str | None = None
    support: bool = True
    # Admins' corrections to the holiday calendar, (date, name): extra closed dates (a company
    # closure, a substitute holiday the `holidays` package lacks) and extra working dates.
    closed: tuple[tuple[date, str], ...] = ()
    working: tuple[tuple[date, str], ...] = ()

    @property
    def weekdays(self) -> frozenset[int]:
        """Working days as datetime.weekday() numbers (Monday = 0)."""
        return frozenset(WEEKDAYS.index(d) for d in self.days)


@dataclass(frozen=True)
class Product:
    key: str
    value: str
    name: str
    team: str


@dataclass(frozen=True)
class Mappings:
    """Everything admins configure in mappings/, validated and cross-checked."""

    statuses: tuple[Status, ...]
    groups: tuple[ResolutionGroup, ...]
    teams: tuple[Team, ...]
    default_team: str
    products: tuple[Product, ...]
    _by_value: dict[str, ResolutionType] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_value.update({t.value: t for t in self.resolution_types})

    @property
    def resolution_types(self) -> tuple[ResolutionType, ...]:
        return tuple(t for g in self.groups for t in g.types)

    def resolution_type(self, value: str | None) -> ResolutionType | None:
        return self._by_value.get(value) if value else None

    def status(self, value: str) -> Status:
        return next(s for s in self.statuses if s.value == value)

    def statuses_for(self, customer_status: str) -> tuple[Status, ...]:
        return tuple(s for s in self.statuses if s.customer_status == customer_status)

    def category_default(self, category: str) -> Status | None:
        return next(
            (s for s in self.statuses if s.category == category and s.category_default), None
        )

    def team(self, key: str) -> Team:
        return next(t for t in self.teams if t.key == key)

    def team_for_group(self, group_name: str | None) -> Team:
        """The team whose Zendesk group has this name, else the default team."""
        for team in self.teams:
            if group_name and team.zendesk_group == group_name:
                return team
        return self.team(self.default_team)

    def product(self, key_or_value: str | None) -> Product | None:
        return next((p for p in self.products if key_or_value in (p.key, p.value)), None)
