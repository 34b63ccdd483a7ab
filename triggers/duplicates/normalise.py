"""Strip e-mail noise from ticket subjects and first comments, and turn text into tokens.

Bodies go through `triggers.replies` (the reply parser every rule reading customers' words
shares: quoted history, signatures, footers, HTML); this module adds what only comparing
tickets needs (subject prefixes, greetings, ticket numbers, tokens)."""

from __future__ import annotations

import itertools
import re
from collections import Counter

from triggers.replies import reply_text, sentences

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
    """A first comment without quoted replies, signature, greeting and ticket numbers (the
    reply parser shared with the other rules reading customers' words, then what only
    comparison needs removed)."""
    text = strip_greeting(reply_text(body))
    text = strip_ticket_numbers(text)
    if keep_lines:
        return "\n".join(collapse_whitespace(line) for line in text.splitlines() if line.strip())
    return collapse_whitespace(text)


def split_sentences(text: str) -> list[str]:
    """Sentences (or lines) of a normalised text, for showing agents what matched."""
    return sentences(text)


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
