"""The auto-solve clock of one ticket as a small state machine over facts. Pure, no I/O.

Facts are comments, each classified once, when cxlayer first sees it (so an author's role is
the one they had when they wrote): `Speaker.AGENT` (a person on the team), `END_USER`
(requester, CC, follower or anyone else who is not an agent; public *or* private; a merge
comment, which carries another request's messages), `AUTO_REPLY` (an end user's mail system,
`triggers.autoreply`) and `SERVICE` (cxlayer's own API user: its reminders). Internal notes by
agents are facts too, and change nothing.

`ClockFacts` keeps, per ticket, the latest moment of each kind of fact that matters. Adding a
fact takes maxima only, so folding the same comments in any order, or with any comment twice,
gives the same facts (the webhook events of one update arrive in any order, and twice).

States, from the facts, the ticket's status and the store's `EpisodeState`:

    NOT_STARTED   no public comment by an agent known
    WAITING_ON_US an end user spoke (any comment) at or after the agent's last public comment
    RUNNING       the agent's last public comment came after every end-user comment: the
                  waiting episode that comment starts (keyed by its time, `clock_start`)
    REMINDED      RUNNING, and cxlayer posted a reminder in this episode
    UNDONE        an auto-solve of this episode was undone: not again until a new episode
    STOPPED       the ticket is not "Awaiting your reply", or is exempt

An agent's public comment starts a new episode (RUNNING); an end-user comment moves any state
to WAITING_ON_US; an auto-reply changes no state (it is counted, for the agents' note);
cxlayer's public comment after the clock start is the reminder (RUNNING → REMINDED).
`triggers.autosolve.decide` turns the state into a decision at a given moment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

from triggers.autoreply import is_auto_reply
from triggers.autosolve_texts import AUTO_REPLY_NOTE_MARK
from triggers.model import Comment

__all__ = [
    "ClockFacts",
    "ClockState",
    "Speaker",
    "classify",
    "facts_from_comments",
    "is_merge_comment",
]

# Zendesk's merge comment on the target ticket ("Merging tickets", Zendesk help: "Request #123
# "subject" was closed and merged into this request. Last comment in request #123: ..."),
# and the via source Zendesk gives it (`via.source.rel` "merge", Via object reference).
_MERGE_BODY = re.compile(
    r"\brequests? #?\d+(?:,\s*#?\d+)*\b.*\b(?:was|were) closed and merged into this request",
    re.IGNORECASE | re.DOTALL,
)


class Speaker(StrEnum):
    AGENT = "agent"
    END_USER = "end_user"
    AUTO_REPLY = "auto_reply"
    SERVICE = "service"
    TOLD = "service_auto_reply_note"  # cxlayer's note telling agents about an auto-reply


class ClockState(StrEnum):
    NOT_STARTED = "not_started"
    WAITING_ON_US = "waiting_on_us"
    RUNNING = "running"
    REMINDED = "reminded"
    UNDONE = "undone"
    STOPPED = "stopped"


def is_merge_comment(comment: Comment) -> bool:
    """A comment that brings another request's messages into this one by a merge."""
    return comment.via_rel == "merge" or bool(_MERGE_BODY.search(comment.body[:400]))


def classify(comment: Comment, service_ids: Iterable[int]) -> Speaker:
    """Who a comment speaks for (see `_classify`); cached: a ticket's comments are folded on
    every event and every run, and the text markers are regular expressions."""
    return _classify(comment, frozenset(service_ids))


@lru_cache(maxsize=8192)
def _classify(comment: Comment, service_ids: frozenset[int]) -> Speaker:
    """Who a comment speaks for, as far as the clock is concerned.

    A merge comment is written by the agent who merged, but it carries the merged request's
    last message (in practice, an end user's: the requester's second request about the same
    issue), so it counts as an end user's: the ticket holds a message nobody answered.
    """
    if comment.author_id in service_ids:
        if not comment.public and AUTO_REPLY_NOTE_MARK in comment.body:
            return Speaker.TOLD
        return Speaker.SERVICE
    if is_merge_comment(comment):
        return Speaker.END_USER
    if comment.author_is_agent:
        return Speaker.AGENT
    if is_auto_reply(comment):
        return Speaker.AUTO_REPLY
    return Speaker.END_USER


@dataclass(frozen=True)
class ClockFacts:
    """The latest moment of each fact that moves the clock (None: none known).

    `agent_public`: an agent's public comment; `end_user`: an end user's comment, public or
    private, with its author (`end_user_id`, for the report); `service_public`: cxlayer's own
    public comment (a reminder or a solve message); `auto_reply`: an auto-reply;
    `auto_reply_told`: cxlayer's internal note that told agents about one.
    """

    agent_public: datetime | None = None
    end_user: datetime | None = None
    end_user_id: int | None = None
    service_public: datetime | None = None
    auto_reply: datetime | None = None
    auto_reply_told: datetime | None = None  # cxlayer's note telling agents of an auto-reply

    def add(self, speaker: Speaker, public: bool, at: datetime, author_id: int) -> ClockFacts:
        """These facts plus one comment; commutative and idempotent (maxima only).

        Of two end-user comments at the same instant the smaller author id is kept, so the
        report names the same person whatever the order."""
        if speaker is Speaker.AGENT:
            if public and (self.agent_public is None or at > self.agent_public):
                return replace(self, agent_public=at)
            return self
        if speaker is Speaker.END_USER:
            if (
                self.end_user is None
                or at > self.end_user
                or (at == self.end_user and (self.end_user_id or 0) > author_id)
            ):
                return replace(self, end_user=at, end_user_id=author_id)
            return self
        if speaker is Speaker.SERVICE:
            if public and (self.service_public is None or at > self.service_public):
                return replace(self, service_public=at)
            return self
        if speaker is Speaker.TOLD:
            if self.auto_reply_told is None or at > self.auto_reply_told:
                return replace(self, auto_reply_told=at)
            return self
        if self.auto_reply is None or at > self.auto_reply:
            return replace(self, auto_reply=at)
        return self

    def merge(self, other: ClockFacts) -> ClockFacts:
        """The facts of both (the store's and a fresh read's); commutative and idempotent."""
        out = self
        if other.agent_public is not None:
            out = out.add(Speaker.AGENT, True, other.agent_public, 0)
        if other.end_user is not None:
            out = out.add(Speaker.END_USER, True, other.end_user, other.end_user_id or 0)
        if other.service_public is not None:
            out = out.add(Speaker.SERVICE, True, other.service_public, 0)
        if other.auto_reply is not None:
            out = out.add(Speaker.AUTO_REPLY, True, other.auto_reply, 0)
        if other.auto_reply_told is not None:
            out = out.add(Speaker.TOLD, False, other.auto_reply_told, 0)
        return out

    @property
    def clock_start(self) -> datetime | None:
        """The start of the running episode: the agent's last public comment, when no end user
        spoke at or after it (a tie counts as the end user's: never solve on doubt)."""
        if self.agent_public is None:
            return None
        if self.end_user is not None and self.end_user >= self.agent_public:
            return None
        return self.agent_public

    @property
    def reminder(self) -> datetime | None:
        """cxlayer's public comment in the running episode (its reminder), if any."""
        start = self.clock_start
        if start is None or self.service_public is None or self.service_public <= start:
            return None
        return self.service_public

    @property
    def auto_reply_untold(self) -> bool:
        """An auto-reply arrived during the running episode and agents were not yet told of
        one in this episode (they are told once, in a note about the clock)."""
        start = self.clock_start
        if start is None or self.auto_reply is None or self.auto_reply <= start:
            return False
        return self.auto_reply_told is None or self.auto_reply_told <= start

    def state(self) -> ClockState:
        """The state from the comments alone (status, exemptions and undo come on top)."""
        if self.agent_public is None:
            return ClockState.WAITING_ON_US if self.end_user else ClockState.NOT_STARTED
        if self.clock_start is None:
            return ClockState.WAITING_ON_US
        return ClockState.REMINDED if self.reminder is not None else ClockState.RUNNING


def facts_from_comments(comments: Iterable[Comment], service_ids: Iterable[int]) -> ClockFacts:
    """Fold a ticket's comments (any order, duplicates allowed) into its clock facts."""
    services = frozenset(service_ids)
    facts = ClockFacts()
    for comment in comments:
        facts = facts.add(
            classify(comment, services), comment.public, comment.created_at, comment.author_id
        )
    return facts
