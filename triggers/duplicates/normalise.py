"""Strip e-mail noise from ticket subjects and first comments, and turn text into tokens.

Bodies go through `triggers.replies` (the reply parser every rule reading customers' words
shares: quoted history, signatures, footers, HTML); this module adds what only comparing
tickets needs (subject prefixes, greetings, ticket numbers, tokens)."""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from collections.abc import Callable

from triggers.replies import fold, reply_text, sentences

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
any all also just im ive dont get got please thanks thank hi hello help helping assist
assistance advance appreciate appreciated hope kindly urgent urgently asap someone anyone
let know regards cheers team guys"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def strip_subject_prefixes(subject: str) -> str:
    """Remove any number of leading "Re:", "Fwd:", "FW:", "AW:"... prefixes."""
    previous = None
    text = subject
    while previous != text:
        previous = text
        text = _SUBJECT_PREFIX.sub("", text, count=1)
    return text.strip()


# _TICKET_REF without its optional brackets: the brackets only widen a match's span, and no
# reference can start at "[", a space or "]", so both find the same numbers.
_TICKET_REF_CORE = re.compile(_TICKET_REF.pattern[len(r"(?:\[\s*)?") : -len(r"(?:\s*\])?")], re.I)
_REF_ANCHORS = ("#", "ticket", "req", "case", "incident")  # how a reference can start
# Under IGNORECASE the pattern also reads these as "i", "i" and "s", which `lower()` does not
# ("İ" is the one character whose lower case is longer; tests/duplicates checks every code
# point). A text with one of them is scanned for anchors with the pattern's own case rules.
_LOWER_MISSES = ("\u0130", "\u0131", "\u017f")
_REF_ANCHOR = re.compile("|".join(re.escape(a) for a in _REF_ANCHORS), re.IGNORECASE)


def ticket_references(text: str) -> frozenset[int]:
    """Ticket numbers a text refers to ("#12345", "ticket 12345", "[Ticket #123]").

    The text is only tried where a reference can start (found by `str.find` in its lower
    case): scanning a long pasted log with the regex at every position cost ~3 ms, ~5 ms in
    non-ASCII text (issue 16: scoring p99).
    """
    starts: set[int] = set()
    lower = text.lower()
    if text.isascii() or not any(c in text for c in _LOWER_MISSES):  # the same positions
        for anchor in _REF_ANCHORS:
            at = lower.find(anchor)
            while at >= 0:
                starts.add(at)
                at = lower.find(anchor, at + 1)
    else:  # a word anchor inside another cannot start a reference: non-overlapping finds do
        starts.update(m.start() for m in _REF_ANCHOR.finditer(text))
    found: set[int] = set()
    end = 0
    for start in sorted(starts):
        if start < end:
            continue  # inside the previous reference, as finditer would skip it
        match = _TICKET_REF_CORE.match(text, start)
        if match:
            found.add(int(match.group(1)))
            end = match.end()
    return frozenset(found)


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
    """A subject without reply prefixes, ticket numbers and extra whitespace; empty when the
    channel generated it ("Chat with Rita": it names the visitor, not the problem)."""
    text = collapse_whitespace(strip_ticket_numbers(strip_subject_prefixes(subject)))
    return "" if is_channel_subject(text) or is_generic_subject(text) else text


@functools.lru_cache(maxsize=64)
def _cleaned_body(body: str) -> str:
    """`normalise_body` before its last step. Cached: a new ticket's first comment is cleaned
    for its terms and again for the note's sentences, and a re-sent ticket's original has the
    same text; a long comment costs ~3 ms to clean (issue 16: scoring p99)."""
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    text = strip_pleasantries(strip_greeting(reply_text(strip_transcript(text))))
    return strip_ticket_numbers(text)


def normalise_body(body: str, *, keep_lines: bool = False) -> str:
    """A first comment without quoted replies, signature, disclaimer, chat-transcript
    scaffolding, greeting and ticket numbers (the reply parser shared with the other rules
    reading customers' words, then what only comparison needs removed)."""
    text = _cleaned_body(body)
    if keep_lines:
        return "\n".join(collapse_whitespace(line) for line in text.splitlines() if line.strip())
    return collapse_whitespace(text)


def split_sentences(text: str) -> list[str]:
    """Sentences (or lines) of a normalised text, for showing agents what matched."""
    return sentences(text)


def words(text: str) -> list[str]:
    """Lower-case word tokens without stopwords and one-letter tokens."""
    # findall gives each whole match (the pattern has no group) without a match object each.
    return [w for w in map(str.lower, _WORD.findall(text)) if len(w) > 1 and w not in STOPWORDS]


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


# --- pleasantries and sign-offs ------------------------------------------------------------
# What a requester writes on every ticket says who and how, never which problem (issue 16:
# "greetings and pleasantries never count as evidence"). The reply parser cuts a closing on a
# line of its own and the signature under it; these are the ones written inside the text:
# "… shows zero. Thanks in advance, Nina Planner, Acme Media", "Hope you are doing well.",
# "Cordialement, Nina". Patterns are written against folded text (`triggers.replies.fold`).
_CLOSING_WORDS = (
    r"(?:(?:many |a thousand )?thanks(?: (?:a lot|again|so much|in advance))?"
    r"(?: for (?:your|any|the) (?:help|time|support|assistance|reply))?"
    r"|thank you(?: (?:very much|so much|in advance))?"
    r"(?: for (?:your|any|the) (?:help|time|support|assistance|reply))?"
    r"|cheers|best(?: regards| wishes)?|kind(?:est)? regards|warm(?:est)? regards|regards"
    r"|sincerely|br|thx|ty|merci(?: beaucoup| d'avance)?(?: (?:pour|de) votre aide)?"
    r"|bien cordialement|cordialement|bien a vous|salutations|mit freundlichen grussen"
    r"|viele grusse|beste grusse|(?:vielen )?dank(?: im voraus)?|gracias(?: de antemano)?"
    r"|saludos(?: cordiales)?|un saludo|atentamente|grazie(?: mille)?|cordiali saluti"
    r"|met vriendelijke groet(?:en)?|groeten|alvast bedankt)"
)
_CLOSING_START = re.compile(rf"^\W*{_CLOSING_WORDS}(?=$|[\s,.!;:-])[\s,.!;:-]*", re.IGNORECASE)
_PLEASANTRY = re.compile(
    r"^\W*(?:"
    r"(?:i |we )?hope (?:you(?: are|'re)|you all are|all is|this (?:e-?mail|message|note) finds "
    r"you)(?: all)?(?: doing)? (?:well|good|great|fine)"
    r"|(?:i |we )?hope you(?: had|'ve had| have had) a (?:good|great|nice) (?:day|week|weekend)"
    r"|j'espere que (?:vous allez|tu vas|tout va) bien"
    r"|(?:ich )?hoffe,? (?:es geht (?:dir|ihnen|euch) gut|(?:sie|du) (?:hatten|hattest))"
    r"|espero que (?:este|estes|esteis) bien"
    r"|(?:any|your) (?:help|assistance|support) (?:would be|is|will be) (?:much |greatly |very "
    r"much )?appreciated"
    r"|(?:please|kindly) (?:help|advise|assist)(?: me| us)?(?: asap| urgently)?"
    r"|(?:can|could|would) (?:you|someone|somebody|anyone) (?:please )?(?:help|assist|advise)"
    r"(?: me| us)?(?: with this| please)?"
    r"|(?:please )?let (?:me|us) know(?: (?:asap|please|if you need anything else))?"
    r"|(?:thanks|thank you|merci|danke)(?: (?:in advance|d'avance|im voraus))?"
    r")\W*$",
    re.IGNORECASE,
)
_PLEASANTRY_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_NAME_TOKEN = re.compile(r"[^\W\d_][\w'.&-]*")


def _is_name_part(rest: str) -> bool:
    """What follows a closing is a name, title or company: a few capitalised words."""
    tokens = _NAME_TOKEN.findall(rest)
    return len(tokens) <= 6 and all(t[0].isupper() for t in tokens)


def _is_pleasantry(sentence: str) -> bool:
    folded = fold(sentence.strip())
    if not folded:
        return False
    if _PLEASANTRY.match(folded):
        return True
    closing = _CLOSING_START.match(folded)
    if closing is not None:  # "Regards, Nina", "Thanks in advance, Nina Planner, Acme Media"
        # fold keeps ASCII positions; elsewhere count the closing's words in the original
        words = len(closing.group().split())
        rest = " ".join(sentence.strip().split()[words:])
        return _is_name_part(rest)
    return False


# Pleasantries open and close a message: only the first and last few sentences are read, so a
# long pasted log costs nothing more (issue 16: scoring p99).
_PLEASANTRY_EDGE = 3


def strip_pleasantries(text: str) -> str:
    """Drop sentences that are only pleasantries or a sign-off with a name among the text's
    first and last `_PLEASANTRY_EDGE` sentences; a last line whose only words are a short name
    after a symbol ("🙏 Rita") goes too."""
    lines = text.splitlines()
    spans = [(i, part) for i, line in enumerate(lines) for part in _split_edges(line)]
    if not spans:
        return text
    edge = spans[:_PLEASANTRY_EDGE] + spans[-_PLEASANTRY_EDGE:]
    dropped = {(i, part) for i, part in edge if _is_pleasantry(part)}
    if dropped:
        kept_lines: list[str] = []
        for i, line in enumerate(lines):
            parts = _split_edges(line)
            kept = [part for part in parts if (i, part) not in dropped]
            if len(kept) == len(parts):
                kept_lines.append(line)
            elif any(k.strip() for k in kept):
                kept_lines.append(" ".join(kept))
        lines = kept_lines
    while lines and not lines[-1].strip():
        lines.pop()
    if lines:
        last = lines[-1].strip()
        tokens = _NAME_TOKEN.findall(last)
        if tokens and len(tokens) <= 3 and not last[0].isalnum() and _is_name_part(last):
            lines.pop()
    return "\n".join(lines)


def _split_edges(line: str) -> list[str]:
    return _PLEASANTRY_SENTENCE_END.split(line) if line.strip() else []


# --- channel-generated text ------------------------------------------------------------------
# Zendesk names chat, messaging and call tickets after the visitor or the number: such a
# subject says who, not what, so it never counts as issue text.
_CHANNEL_SUBJECT = re.compile(
    r"^\s*(?:(?:chat|conversation|messaging conversation|whatsapp conversation|"
    r"facebook conversation|instagram conversation|sms conversation|text message|"
    r"call|voicemail|missed call|message)\s+(?:with|from)\b.*"
    r"|offline message from\b.*"
    r"|(?:chat|conversation|call|voicemail)\s*(?:#\s*)?\d*\s*)$",
    re.IGNORECASE,
)
# Chat transcript lines: "(10:02:11 AM) Rita Requester: text" — the time and speaker go.
_TRANSCRIPT_PREFIX = re.compile(
    r"^\s*[\(\[]?\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?[\)\]]?\s*"
    r"(?:[^:\n]{1,40}:\s*)?",
    re.IGNORECASE,
)
# The proactive greeting a chat widget or bot opens every transcript with.
_PROACTIVE_GREETING = re.compile(
    r"^\s*(?:(?:hi|hello|hey|welcome)\b[^.!?]{0,60}[.!?,]?\s*)*"
    r"(?:how (?:can|may) (?:we|i) help(?: you)?(?: today)?|what can (?:we|i) (?:do|help) "
    r"(?:for you|with)(?: today)?|(?:do you )?need (?:any )?help|let us know how we can help|"
    r"welcome to [^.!?]{1,60}|"
    r"(?:a member of |someone (?:from|on) )?(?:our|the) (?:support )?(?:team|agents?)"
    r"(?: member)? will be with you (?:shortly|soon|in a (?:moment|minute)|momentarily)|"
    r"an? (?:agent|team member|member of (?:our|the) team) will be with you "
    r"(?:shortly|soon|in a (?:moment|minute)|momentarily)|"
    r"thanks? (?:you )?for (?:contacting|reaching out to|chatting with) [^.!?]{1,60}|"
    r"please wait(?: (?:while|for) [^.!?]{0,60})?)[.!?]*\s*$",
    re.IGNORECASE,
)
# The header a chat transcript opens with ("Chat started: 2026-11-29 09:01 AM UTC").
_TRANSCRIPT_HEADER = re.compile(
    r"^\s*(?:chat|conversation) (?:started|ended)(?: on| at)?\s*:.*$", re.IGNORECASE
)
# "Rita Requester: text": a speaker's name (a few capitalised words) before a colon.
_SPEAKER = re.compile(r"^\s*((?:[^\W\d_][\w'.-]*\s){0,3}[^\W\d_][\w'.-]*):\s+(?=\S)")


def _speaker(line: str) -> str | None:
    match = _SPEAKER.match(line)
    if match is None or not all(w[0].isupper() for w in match.group(1).split()):
        return None
    return match.group(1)


# "Rita Requester: Hi": a speaker's line that only greets (messaging, transcripts without times).
_SPEAKER_GREETING = re.compile(
    r"^\s*[^:\n]{1,40}:\s*(?:hi|hello|hey|hiya|bonjour|hallo|hola|good (?:morning|afternoon|"
    r"evening))\b[^\n.!?,:]{0,20}[.!,]*\s*$",
    re.IGNORECASE,
)


# Subjects that name no problem: "Question", "Demande", "Help needed", "Urgent issue".
# Two different problems from one requester under the same such subject are not duplicates
# (issue 16: only issue text counts), so a subject of only these words is not compared.
_GENERIC_SUBJECT_TEXT = """question questions query queries request requests inquiry enquiry
    issue issues problem problems support urgent ticket tickets info information follow up followup needed need
    quick new another demande aide probleme urgent renseignement frage fragen anfrage hilfe
    dringend pregunta consulta ayuda problema urgente solicitud domanda richiesta aiuto
    vraag hulp probleem"""
_GENERIC_SUBJECT_WORDS = frozenset(_GENERIC_SUBJECT_TEXT.split())


@functools.lru_cache(maxsize=8192)
def is_generic_subject(subject: str) -> bool:
    """A subject whose words are all generic ("Question", "Urgent: help needed") or none."""
    return all(fold(w) in _GENERIC_SUBJECT_WORDS for w in words(subject))


@functools.lru_cache(maxsize=8192)  # asked of every candidate of every new ticket
def is_channel_subject(subject: str) -> bool:
    """A subject the channel generated ("Chat with Rita", "Conversation with +1 555...")."""
    return bool(_CHANNEL_SUBJECT.match(subject.strip())) if subject.strip() else False


def strip_transcript(body: str) -> str:
    """Chat transcripts: drop their header, timestamps and speaker names, and proactive
    greetings; a speaker's line that only says hello goes in any body."""
    raw = body.splitlines()
    # A speaker's name comes before a colon early in the line: no colon, no regex (logs).
    talk = [":" in line[:45] for line in raw]
    speakers = Counter(
        name for line, said in zip(raw, talk, strict=True) if said and (name := _speaker(line))
    )
    repeated = {name for name, n in speakers.items() if n >= 2}  # messaging: no timestamps
    lines = [
        line
        for line, said in zip(raw, talk, strict=True)
        if not (said and (_TRANSCRIPT_HEADER.match(line) or _SPEAKER_GREETING.match(line)))
    ]
    if repeated:
        lines = [_SPEAKER.sub("", line, count=1) if _speaker(line) in repeated else line
                 for line in lines]  # fmt: skip
    if sum(1 for line in lines if _TRANSCRIPT_PREFIX.match(line) and ":" in line[:60]) < 2:
        return "\n".join(lines)
    kept = []
    for line in lines:
        text = _TRANSCRIPT_PREFIX.sub("", line, count=1)
        if _PROACTIVE_GREETING.match(text):
            continue
        kept.append(text)
    return "\n".join(kept)


# --- auto-replies ------------------------------------------------------------------------------
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:(?:automatic|auto)[ -]?reply|autoreply|auto[ -]?response|out of (?:the )?office|"
    r"ooo\b|abwesenheitsnotiz|absence|réponse automatique|undeliverable|undelivered mail|"
    r"delivery (?:status notification|failure|has failed)|mail delivery (?:failed|subsystem)|"
    r"returned mail|failure notice|delivery notification|message not delivered)",
    re.IGNORECASE,
)
_AUTO_REPLY_BODY = re.compile(
    r"\b(?:i am|i'm|i will be) (?:currently )?(?:out of (?:the )?office|away from (?:the|my) "
    r"(?:office|desk)|on (?:annual |parental |sick )?leave|on vacation|on holiday)"
    r"|\bthis is an automatic(?:ally generated)? (?:reply|response|message)"
    r"|\bdelivery (?:to the following recipients? )?(?:has )?failed"
    r"|\bcould not be delivered to one or more recipients"
    r"|\bmail delivery subsystem\b"
    r"|\b(?:limited|no|intermittent|restricted) access to (?:my )?e-?mails?\b"
    r"|\b(?:respond|reply|answer|get back to you)\b[^.!?]{0,40}\b(?:up)?on my return\b",
    re.IGNORECASE,
)


def is_auto_reply(subject: str, description: str) -> bool:
    """An out-of-office or automatic reply, or a delivery notice: never anyone's issue.

    Subjects "Automatic reply: ...", "Out of Office: ...", "Undeliverable: ..." and bodies
    opening with "I am out of the office" (in the first 400 characters) count.
    """
    if _AUTO_REPLY_SUBJECT.match(strip_subject_prefixes(subject)) or _AUTO_REPLY_SUBJECT.match(
        subject
    ):
        return True
    return bool(_AUTO_REPLY_BODY.search(description[:400]))


# --- lines that recur across the account's tickets -----------------------------------------
_LABEL = re.compile(r"^([^:]{1,40}):\s*(.*)$")


def line_keys(body: str, limit: int = 80) -> list[str]:
    """Keys of a first comment's lines, as counted for account-wide boilerplate: the lower-case
    line without digits and extra spaces, plus "label:" for "Label: value" lines."""
    keys: list[str] = []
    for line in body.splitlines()[:limit]:
        key = collapse_whitespace(_DIGITS.sub("#", line.lower()))
        if len(key) < 3:
            continue
        keys.append(key)
        label = _LABEL.match(key)
        if label and label.group(2):
            keys.append(label.group(1) + ":")
    return keys


_DIGITS = re.compile(r"\d+")


def subject_key(subject: str) -> str:
    """The key a subject is counted under for account-wide boilerplate (web-form subjects)."""
    return "subject:" + collapse_whitespace(_DIGITS.sub("#", normalise_subject(subject).lower()))


def strip_common_lines(body: str, is_common: Callable[[str], bool]) -> str:
    """Drop lines the account's tickets share (templates, web-form scaffolding, footers); of a
    "Label: value" line whose label is common, only the value stays."""
    kept: list[str] = []
    for line in body.splitlines():
        key = collapse_whitespace(_DIGITS.sub("#", line.lower()))
        if len(key) >= 3 and is_common(key):
            continue
        label = _LABEL.match(key)
        if label and label.group(2) and is_common(label.group(1) + ":"):
            original = _LABEL.match(line.strip())
            kept.append(original.group(2) if original else line)
            continue
        kept.append(line)
    return "\n".join(kept)
