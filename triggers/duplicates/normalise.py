"""Strip e-mail noise from ticket subjects and first comments, and turn text into tokens."""

from __future__ import annotations

import itertools
import re
from collections import Counter

# Reply/forward prefixes in several mail clients' languages: Re, Fwd, FW, AW (German Antwort),
# WG (Weitergeleitet), SV (Nordic svar), TR (French transféré), RE[2] (Outlook counters).
_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:(?:re|fwd?|aw|wg|sv|tr|antw|ref)\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*|\[external\]\s*)",
    re.IGNORECASE,
)

# Ticket references as agents and requesters write them. Group 1 is the number.
_TICKET_REF = re.compile(
    r"(?:\[\s*)?(?:\b(?:ticket|request|case|incident|req)\s*(?:no\.?|number|nr\.?|id)?\s*[:#]?\s*"
    r"|#\s?)(\d{2,12})\b(?:\s*\])?",
    re.IGNORECASE,
)

# Lines that start the quoted part of a reply: everything from there on is older mail.
_QUOTE_HEADERS = (
    re.compile(
        r"^\s*-{2,}\s*(?:original message|forwarded message|mensaje original)\s*-{2,}", re.I
    ),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's separator line above "From: ... Sent: ..."
    re.compile(r"^\s*(?:begin forwarded message|forwarded message)\s*:?", re.I),
    re.compile(r"^\s*am .{4,80}schrieb .{1,80}:\s*$", re.I),
    re.compile(r"^\s*le .{4,80}a écrit\s*:\s*$", re.I),
)
# "On Tue, 3 Mar 2026 at 10:02, Jane <jane@x.com> wrote:" — mail clients wrap it over two lines.
_ON_WROTE_START = re.compile(r"^\s*on\s+\S.{0,200}$", re.IGNORECASE)
_WROTE_END = re.compile(r"wrote\s*:\s*$", re.IGNORECASE)
_FROM_HEADER = re.compile(r"^\s*\*?from\s*:\*?\s+\S", re.IGNORECASE)
_SENT_HEADER = re.compile(r"^\s*\*?(?:sent|date|to|subject)\s*:\*?", re.IGNORECASE)

# Signature starts: the RFC 3676 delimiter, mobile footers, and closings on a line of their own.
_SIG_DELIMITER = re.compile(r"^\s*--\s*$")
_MOBILE_FOOTER = re.compile(r"^\s*(?:sent from my|get outlook for|sent via)\b", re.IGNORECASE)
_CLOSING = re.compile(
    r"^\s*(?:thanks(?: (?:a lot|again|in advance))?|thank you(?: (?:very much|in advance))?|"
    r"many thanks|cheers|best|best regards|kind regards|warm regards|regards|sincerely|"
    r"yours(?: truly| sincerely)?|br|mfg|mit freundlichen grüßen|viele grüße|cordialement)"
    r"\s*[,.!]?\s*$",
    re.IGNORECASE,
)
# A signature is only the last few short lines; a "Thanks," halfway through a message is text.
_MAX_SIGNATURE_LINES = 8

_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|dear|hiya|greetings|good (?:morning|afternoon|evening)|hallo|bonjour)"
    r"\b[^\n.!?]{0,40}?[,!:]\s*",
    re.IGNORECASE,
)
_GREETING_ALONE = re.compile(
    r"^\s*(?:hi|hello|hey|dear|hiya|greetings|good (?:morning|afternoon|evening)|hallo|bonjour)"
    r"\b[^\n.!?,:]{0,40}\s*$",
    re.IGNORECASE,
)

_WHITESPACE = re.compile(r"\s+")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")

# Function words and pleasantries say nothing about which problem a ticket is about.
_STOPWORD_TEXT = """a an and are as at be been but by can could did do does for from had has have he
her his how i if in into is it its me my no not of on or our so than that the their them then
there these they this to too was we were what when where which who will with would you your am
any all also just im ive dont get got please thanks thank hi hello"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def strip_subject_prefixes(subject: str) -> str:
    """Remove any number of leading "Re:", "Fwd:", "FW:", "AW:"... prefixes."""
    previous = None
    text = subject
    while previous != text:
        previous = text
        text = _SUBJECT_PREFIX.sub("", text, count=1)
    return text.strip()


def ticket_references(text: str) -> frozenset[int]:
    """Ticket numbers a text refers to ("#12345", "ticket 12345", "[Ticket #123]")."""
    return frozenset(int(m.group(1)) for m in _TICKET_REF.finditer(text))


def strip_ticket_numbers(text: str) -> str:
    """Remove ticket references: they say which ticket, not what the problem is."""
    return _TICKET_REF.sub(" ", text)


def _is_quote_start(lines: list[str], i: int) -> bool:
    line = lines[i]
    if any(p.match(line) for p in _QUOTE_HEADERS):
        return True
    if _ON_WROTE_START.match(line):
        if _WROTE_END.search(line):
            return True
        if i + 1 < len(lines) and _WROTE_END.search(lines[i + 1]) and len(lines[i + 1]) < 120:
            return True
    if _FROM_HEADER.match(line):
        following = lines[i + 1 : i + 4]
        return any(_SENT_HEADER.match(other) for other in following)
    return False


def strip_quoted(body: str) -> str:
    """Drop the quoted history of a reply: ">" lines and everything after a reply header."""
    lines = body.splitlines()
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _is_quote_start(lines, i):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept)


def strip_signature(body: str) -> str:
    """Drop a trailing signature: after "-- ", a mobile footer, or a closing near the end."""
    lines = body.splitlines()
    for i, line in enumerate(lines):
        if _SIG_DELIMITER.match(line) or _MOBILE_FOOTER.match(line):
            return "\n".join(lines[:i])
        if _CLOSING.match(line) and len(lines) - i <= _MAX_SIGNATURE_LINES:
            rest = [other for other in lines[i + 1 :] if other.strip()]
            if all(len(other) <= 80 for other in rest):
                return "\n".join(lines[:i])
    return body


def strip_greeting(body: str) -> str:
    """Drop an opening salutation ("Hi team,", "Hello", "Dear Support,")."""
    lines = body.lstrip().splitlines()
    if not lines:
        return ""
    first = lines[0]
    if _GREETING_ALONE.match(first):
        return "\n".join(lines[1:])
    lines[0] = _GREETING.sub("", first, count=1)
    return "\n".join(lines)


def collapse_whitespace(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def normalise_subject(subject: str) -> str:
    """A subject without reply prefixes, ticket numbers and extra whitespace."""
    return collapse_whitespace(strip_ticket_numbers(strip_subject_prefixes(subject)))


def normalise_body(body: str, *, keep_lines: bool = False) -> str:
    """A first comment without quoted replies, signature, greeting and ticket numbers."""
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    text = strip_quoted(text)
    text = strip_signature(text)
    text = strip_greeting(text)
    text = strip_ticket_numbers(text)
    if keep_lines:
        return "\n".join(collapse_whitespace(line) for line in text.splitlines() if line.strip())
    return collapse_whitespace(text)


def split_sentences(text: str) -> list[str]:
    """Sentences (or lines) of a normalised text, for showing agents what matched."""
    return [s.strip() for s in _SENTENCE_SPLIT.split(text) if s and s.strip()]


def words(text: str) -> list[str]:
    """Lower-case word tokens without stopwords and one-letter tokens."""
    return [
        w
        for w in (m.group(0).lower() for m in _WORD.finditer(text))
        if len(w) > 1 and w not in STOPWORDS
    ]


def word_bigrams(tokens: list[str]) -> list[str]:
    return [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


def char_ngrams(tokens: list[str], low: int = 3, high: int = 5) -> list[str]:
    """Character n-grams inside each word, padded at its edges (robust to typos and inflection)."""
    grams: list[str] = []
    for token in tokens:
        padded = f" {token} "
        for n in range(low, high + 1):
            if len(padded) < n:
                break
            grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


def counts(items: list[str]) -> dict[str, int]:
    return dict(Counter(items))
