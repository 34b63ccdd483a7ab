"""Is a comment an automatic reply (out of office, vacation responder)? Pure, no I/O.

An auto-reply is not the requester answering: it must neither stop the auto-solve clock nor
leave the ticket "waiting on the team" forever. Markers, each with its source:

- Zendesk's own classification: a mail it recognises as automatic is suspended with cause
  `auto_mailer` (3) or `auto_vacation` (8) ("Cause of suspension reference", Zendesk developer
  docs); an agent who recovers it leaves that cause in the comment's via source
  (`via.source.rel`), so those names mark the comment (`AUTO_REPLY_RELS`).
- Auto-replies arrive by mail, directly ("email") or through an integration that posts mail
  with the API ("api"); a person typing in the help center, the agent workspace, a chat or a
  call is never an automatic reply, so comments whose via channel is one of those are never
  auto-replies (Zendesk "Via object reference": `via.channel` values "web", "mobile",
  "mobile_sdk", "chat", "voice", "sms", "native_messaging", "help_center").
- RFC 3834 ("Recommendations for Automatic Responses to Electronic Mail", section 5): automatic
  responses carry `Auto-Submitted: auto-replied`; mail clients often quote it in the body.
- Subject prefixes mail clients put on automatic replies (Microsoft Outlook / Exchange "Automatic
  replies", localised; Gmail and Apple Mail vacation responders let users write their own
  subject, so bodies are matched as well), as the first line of the comment, in English, French,
  German, Spanish, Portuguese, Italian, Dutch and the Scandinavian languages.
- Common out-of-office sentences in the same languages.

Matching is on whole phrases, case-insensitive, so a requester writing "I was out of the
office last week, here is the file" is still matched only when a phrase says they are away
*now*; the phrases are chosen to say that.
"""

from __future__ import annotations

import re

from triggers.model import Comment

__all__ = ["AUTO_REPLY_RELS", "is_auto_reply"]

# Zendesk suspension causes for automatic mail (Cause of suspension reference: 3, 8).
AUTO_REPLY_RELS = frozenset({"auto_mailer", "auto_vacation"})
HUMAN_CHANNELS = frozenset(
    {"web", "mobile", "mobile_sdk", "chat", "voice", "sms", "native_messaging", "help_center"}
)

# RFC 3834 section 5: "Auto-Submitted: auto-replied" (and auto-generated).
_RFC3834 = r"auto-submitted:\s*auto-(?:replied|generated)"

# Outlook/Exchange automatic-reply subject prefixes (localised) and generic ones.
_SUBJECT_PREFIXES = (
    r"automatic reply",  # Outlook, English
    r"auto(?:matic)?[- ]?reply",
    r"out of (?:the )?office",
    r"r[ée]ponse automatique",  # Outlook, French
    r"absence du bureau",
    r"automatische antwort",  # Outlook, German
    r"abwesenheitsnotiz",
    r"respuesta autom[áa]tica",  # Outlook, Spanish
    r"fuera de la oficina",
    r"resposta autom[áa]tica",  # Outlook, Portuguese
    r"risposta automatica",  # Outlook, Italian
    r"automatisch antwoord",  # Outlook, Dutch
    r"afwezig",
    r"autosvar",  # Outlook, Swedish / Danish / Norwegian
)

# Sentences that say the writer is away now, per language.
_BODY_PHRASES = (
    r"i am (?:currently )?out of (?:the )?office",
    r"i'?m (?:currently )?out of (?:the )?office",
    r"i am (?:currently )?away from the office",
    r"i am (?:currently )?on (?:annual |parental |sick )?leave",
    r"i will be out of (?:the )?office",
    r"this is an automatic reply",
    r"this is an automated (?:reply|response|message)",
    r"je suis (?:actuellement )?absente?",  # French
    r"ceci est une r[ée]ponse automatique",
    r"ich bin (?:derzeit |zurzeit )?(?:nicht im b[üu]ro|abwesend|im urlaub)",  # German
    r"dies ist eine automatische antwort",
    r"estoy (?:actualmente )?fuera de la oficina",  # Spanish
    r"esta es una respuesta autom[áa]tica",
    r"estou (?:atualmente )?fora do escrit[óo]rio",  # Portuguese
    r"sono (?:attualmente )?fuori (?:ufficio|sede)",  # Italian
    r"questa [èe] una risposta automatica",
    r"ik ben (?:momenteel )?afwezig",  # Dutch
    r"jag [äa]r (?:f[öo]r n[äa]rvarande )?inte p[åa] kontoret",  # Swedish
    r"jeg er (?:for tiden )?ikke p[åa] kontoret",  # Danish / Norwegian
)

_SUBJECT = re.compile(r"^\s*(?:" + "|".join(_SUBJECT_PREFIXES) + r")\s*:", re.IGNORECASE)
_BODY = re.compile(r"(?:" + "|".join((_RFC3834, *_BODY_PHRASES)) + r")", re.IGNORECASE)
_HEAD_CHARS = 600  # an auto-reply says what it is at the top; quoted history follows


def is_auto_reply(comment: Comment) -> bool:
    """True when `comment` is an automatic reply by an end user's mail system.

    Agents' comments never are. See the module docstring for the markers and their sources.
    """
    if comment.author_is_agent:
        return False
    if comment.via_rel is not None and comment.via_rel in AUTO_REPLY_RELS:
        return True
    channel = (comment.via or "").strip().lower()
    if channel in HUMAN_CHANNELS:
        return False
    head = comment.body[:_HEAD_CHARS]
    first_line = head.strip().split("\n", 1)[0] if head.strip() else ""
    return bool(_SUBJECT.match(first_line) or _BODY.search(head))
