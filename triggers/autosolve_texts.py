"""Every word auto-solve shows: requester comments, agent notes, report reasons and report labels."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

# Our own names, not strftime's %A/%B: those follow the process locale, and these texts
# (and the reports built from them) must be the same on every host.
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def long_date(day: date) -> str:
    """'Thursday, December 3, 2026': how dates are written to requesters and agents."""
    return f"{_DAYS[day.weekday()]}, {_MONTHS[day.month - 1]} {day.day}, {day.year}"


def local_moment(moment: datetime, timezone: str) -> str:
    """'Wednesday, November 25, 2026 at 10:00 (America/New_York)' for internal notes."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{long_date(local.date())} at {local:%H:%M} ({timezone})"


SIGNATURE = "Thank you,\nMediaocean Customer Experience"

# --- public comments (end-user wording) ----------------------------------------------------

REMINDER_PUBLIC = (
    "Hello,\n\n"
    "We are still waiting for your reply to our message of {clock_start_date}. "
    "To move your request forward we need the information or confirmation asked for in "
    "that message.\n\n"
    "If we do not hear from you by the end of {due_date}, this request will be marked as "
    "solved. Simply reply to this email (or add a comment to the request in the help center) "
    "to keep it open.\n\n" + SIGNATURE
)

SOLVED_PUBLIC = (
    "Hello,\n\n"
    "We have marked this request as solved because we did not receive a reply to our "
    "message of {clock_start_date}.\n\n"
    "If you still need help, simply reply to this email (or add a comment to the request in "
    "the help center) and the request will reopen.\n\n" + SIGNATURE
)

# --- internal notes (plain words for agents) -----------------------------------------------

REMINDER_NOTE = (
    "Auto-solve reminder sent to the requester: no public reply since the agent's public "
    "comment of {clock_start} ({elapsed} business days on the {team_name} calendar). "
    "The ticket will be auto-solved after the end of {due_date} unless the requester "
    "replies.{exempt_hint}"
)

SOLVED_NOTE = (
    "Auto-solved: no public reply from the requester for {elapsed} business days on the "
    "{team_name} calendar since the agent's public comment of {clock_start}. Status set to "
    "Solved with resolution type Auto-solved › No response from user. If the requester "
    "replies, Zendesk reopens the ticket and cxlayer clears that resolution type."
)

PLAN_NOTE = (
    "Auto-solve due set to {due_date}: this ticket awaits the requester's reply since the "
    "agent's public comment of {clock_start}. If the requester does not answer, cxlayer's nightly "
    "sweep sends them a reminder after the end of {remind_date} ({remind_after} business days on "
    'the {team_name} calendar) and solves the ticket as "Auto-solved › No response from user" '
    "after the end of {due_date} ({solve_after} business days). A reply from the requester stops "
    "the clock.{exempt_hint}"
)
PLAN_NOTE_REMINDED = (
    "Auto-solve due set to {due_date}: the requester was already reminded in this waiting "
    "episode (no public reply since the agent's public comment of {clock_start}). Unless the "
    "requester replies, cxlayer's nightly sweep solves the ticket as \"Auto-solved › No response "
    'from user" after the end of {due_date} ({solve_after} business days on the {team_name} '
    "calendar).{exempt_hint}"
)
PLAN_NOTE_OVERDUE = (
    "Auto-solve due set to {due_date}: this ticket awaits the requester's reply and its "
    "auto-solve clock runs. cxlayer's nightly sweep acts on it: it reminds the requester first "
    "if no reminder went out in this waiting episode, and never solves before the end of "
    "{due_date}. A reply from the requester stops the clock."
)
CLOCK_STARTED_REASON = "an agent asked the requester for information; the auto-solve clock started"
EXEMPT_HINT = " To keep the ticket open, add the tag {tag}."

UNDO_NOTE = (
    "Auto-solve undone (sweep run {run_id}): status restored to {status} and the resolution "
    "type Auto-solved › No response from user cleared. The requester has already received "
    "the auto-solve message. This ticket will not be auto-solved again in this waiting "
    "episode: the clock starts again only with a new public comment by an agent."
)

REOPENED_NOTE = (
    "The {who} replied after this ticket was auto-solved, so the resolution type "
    "Auto-solved › No response from user was cleared. Set a resolution type again when "
    "solving."
)

CLOCK_STOPPED_NOTE = (
    "The {who} replied, so the auto-solve clock stopped and the Auto-solve due date "
    "({due_date}) was cleared."
)

# The words that mark cxlayer's note about an auto-reply (agents are told once per episode;
# the clock recognises its own note by them).
AUTO_REPLY_NOTE_MARK = "automatic reply (such as an out-of-office message)"
AUTO_REPLY_SENTENCE = (
    " An " + AUTO_REPLY_NOTE_MARK + " arrived from the requester's side on {when}; it is not "
    "a reply, so the auto-solve clock keeps running."
)
AUTO_REPLY_NOTE = (
    "An " + AUTO_REPLY_NOTE_MARK + " arrived from the requester's side on {when}; it is not a "
    "reply, so the auto-solve clock keeps running: auto-solve due {due_date}.{exempt_hint}"
)

DUE_MOVED_NOTE = (
    "Auto-solve due moved from {old_date} to {due_date}: the {team_name} calendar or the "
    "auto-solve settings changed, and a promised date is never brought forward.{reminded}"
)
DUE_MOVED_REMINDED = " The requester was told the new date."
DUE_MOVED_PUBLIC = (
    "Hello,\n\n"
    "An update to our earlier reminder: we will keep this request open for your reply "
    "until the end of {due_date}.\n\n" + SIGNATURE
)

# --- reasons in the run report (for admins; ISO dates so reports diff cleanly) -------------

REASON_NOT_AWAITING = "not awaiting the requester's reply (status {status}); nothing to do"
REASON_EXEMPT = "exempt by {what} {value}; never auto-solved"
REASON_NO_AGENT_COMMENT = (
    "no public comment by an agent is known, so the auto-solve clock has not started"
)
REASON_WAITING_ON_US = "the {who} commented last ({when}); the ticket is waiting on the team"
REASON_NOT_YET = (
    "not yet due: {elapsed} of {remind_after} business days before a reminder; "
    "reminder after {remind_date}, auto-solve after {due_date}"
)
REASON_ALREADY_REMINDED = (
    "reminder already sent in this waiting episode; {elapsed} of {solve_after} business days; "
    "auto-solve after {due_date}"
)
REASON_REMIND = (
    "{elapsed} business days without a reply (reminder after {remind_after}); "
    "auto-solve after {due_date}"
)
REASON_SOLVE = "{elapsed} business days without a reply (auto-solve after {solve_after})"
REASON_REMIND_FIRST = (
    "{elapsed} business days without a reply, but no reminder was sent in this waiting "
    "episode: reminder first; auto-solve after {due_date}"
)
REASON_UNDONE = (
    "auto-solve was undone in this waiting episode; not auto-solved again until an agent's "
    "new public comment"
)
REASON_AUTO_REPLY_REOPENED = (
    "an automatic reply reopened the ticket; it is not a reply, so the ticket is back in "
    "Awaiting your reply and the auto-solve clock keeps running"
)
REASON_DUE_CLEARED = "Auto-solve due cleared: {why}"
WHY_NOT_AWAITING = "the ticket left Awaiting your reply (status {status})"
WHY_EXEMPT = "the ticket is exempt ({exempt})"
WHY_NO_CLOCK = "no auto-solve clock runs ({state})"
REASON_CONFLICT = (
    "the ticket changed between reading and writing ({detail}); left untouched, "
    "to be re-read and decided again"
)

WHO_REQUESTER = "requester"
WHO_CC = "CC"
WHO_OTHER_END_USER = "end user (not the requester)"

EXEMPT_BY_TAG = "tag"
EXEMPT_BY_PRIORITY = "priority"
EXEMPT_BY_ORGANIZATION = "organization"
EXEMPT_BY_GROUP = "group"
EXEMPT_BY_FORM = "ticket form"

# --- undo outcomes (CLI and audit) ---------------------------------------------------------

UNDO_REASON = "reopened: status restored to {status}"
UNDO_NOT_SOLVED = "not undone: the ticket is no longer solved (status {status})"
UNDO_CLOSED = "not undone: closed tickets cannot be reopened in Zendesk"
UNDO_OTHER_RESOLUTION = (
    "not undone: the resolution type was changed since the run ({resolution_type})"
)
REPLY_REASON = "the requester replied after auto-solve activity"

# --- HTML report ---------------------------------------------------------------------------

DECISION_LABELS = {
    "remind": "Remind",
    "solve": "Solve",
    "skip": "Not yet due",
    "exempt": "Exempt",
    "waiting_on_us": "Waiting on us",
    "conflict": "Conflict",
}
REPORT_TITLE = "Auto-solve sweep {run_id}"
REPORT_DRY_RUN = "Dry run: nothing was written to Zendesk."
REPORT_REAL_RUN = (
    "Real run: the actions decided below were written to Zendesk; conflicts were left untouched."
)
REPORT_AS_OF = "As of {as_of}"
REPORT_API_CALLS = "API calls: {api_calls}"
REPORT_PER_1000_EXAMINED = "per 1,000 tickets examined: {value}"
REPORT_PER_1000_CHANGED = "per 1,000 tickets changed: {value}"
REPORT_LEARNED = "history learned for {count} tickets (comments read: cxlayer had not seen them)"
REPORT_NOT_APPLICABLE = "n/a"
REPORT_CALENDARS = "Team calendar corrections (mappings/teams.toml)"
REPORT_CALENDAR_ROW = "{team}: {date} {kind} ({name})"
REPORT_NO_TICKETS = "No tickets were examined."
REPORT_COLUMNS = (
    "Ticket",
    "Decision",
    "Reason",
    "Team",
    "Clock start",
    "Business days",
    "Due",
)
REPORT_DRIFT = (
    "Pending tickets on a status added in Zendesk outside the mappings (never reminded nor "
    "solved until the mappings say what the status means)"
)
