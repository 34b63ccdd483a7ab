"""The one reply parser for every rule that reads customers' words: only the text they wrote now.

E-mail replies reach Zendesk with the older mail quoted below them, a signature, a mobile footer
and often a legal disclaimer; HTML-only mail arrives as markup. Rules that judge what a customer
said (data maintenance approval) or compare what they wrote (the duplicate detector) must see
none of that: a colleague's "I approve" quoted under "Von: / Gesendet:" is not the requester's
approval, and our own request quoted under "Le ... a écrit :" is not the requester's words.

`reply_text(body)` returns the new text: the HTML's text rendering (quoted blocks dropped),
cut at the first quote header, without ">" lines, signature, disclaimer or footer. Pure, stdlib.
Every header pattern cites the mail client that writes it.
"""

from __future__ import annotations

import re
import unicodedata
from html.parser import HTMLParser

# --- HTML ----------------------------------------------------------------------------------

# A body is HTML when it carries block or line markup (Zendesk's `body` of an HTML-only
# e-mail, and the sandbox's, is the markup itself).
_HTML_HINT = re.compile(r"<\s*(?:html|body|div|p|br|span|table|blockquote|font)\b[^>]*>", re.I)
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "ul", "ol"}
)
_SKIPPED_TAGS = frozenset({"blockquote", "style", "script", "head", "title"})
# Containers after which everything is quoted history, by the client that writes them:
# Gmail `<div class="gmail_quote">`, Outlook `<div id="divRplyFwdMsg">` / `<div id="appendonsend">`,
# Yahoo `<div class="yahoo_quoted">`, Thunderbird `<div class="moz-cite-prefix">`,
# Apple Mail `<blockquote type="cite">` (skipped as a blockquote).
_QUOTE_MARKERS = re.compile(
    r"\b(?:gmail_quote|gmail_attr|divRplyFwdMsg|appendonsend|yahoo_quoted|moz-cite-prefix|"
    r"moz-forward-container|OutlookMessageHeader)\b"
)


class _TextRenderer(HTMLParser):
    """Text of an HTML mail body: block tags become line breaks, quoted parts are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        marker = " ".join(v or "" for k, v in attrs if k in ("class", "id"))
        if _QUOTE_MARKERS.search(marker):
            self.done = True
            return
        if tag in _SKIPPED_TAGS:
            self.skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.done and tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self.done:
            return
        if tag in _SKIPPED_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.done and self.skip_depth == 0:
            self.parts.append(data)


def is_html(body: str) -> bool:
    return "<" in body and bool(_HTML_HINT.search(body))


def html_to_text(body: str) -> str:
    """The text an HTML mail shows, one line per block, quoted blocks left out."""
    renderer = _TextRenderer()
    renderer.feed(body)
    renderer.close()
    lines = (
        re.sub(r"[ \t\xa0]+", " ", line).strip() for line in "".join(renderer.parts).split("\n")
    )
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- quoted history ------------------------------------------------------------------------

# Separator lines that start quoted or forwarded mail, each with the client that writes it.
_SEPARATORS: tuple[tuple[str, str], ...] = (
    # Outlook (desktop, plain text): "-----Original Message-----" in the user's language.
    (
        r"-{2,}\s*(?:original message|message d'origine|ursprungliche nachricht|"
        r"mensaje original|mensagem original|messaggio originale|oorspronkelijk bericht|"
        r"oprindelig meddelelse|opprinnelig melding|ursprungligt meddelande|"
        r"alkuperainen viesti)\s*-{2,}",
        "Outlook desktop, plain-text reply separator (EN/FR/DE/ES/PT/IT/NL/DA/NO/SV/FI)",
    ),
    # Gmail: "---------- Forwarded message ---------" in the user's language.
    (
        r"-{2,}\s*(?:forwarded message|message transfere|weitergeleitete nachricht|"
        r"mensaje reenviado|mensagem encaminhada|messaggio inoltrato|doorgestuurd bericht|"
        r"videresendt meddelelse|videresendt melding|vidarebefordrat meddelande|"
        r"valitetty viesti)\s*-{2,}",
        "Gmail forward separator (EN/FR/DE/ES/PT/IT/NL/DA/NO/SV/FI)",
    ),
    # Apple Mail: "Begin forwarded message:" in the user's language.
    (
        r"(?:begin forwarded message|debut du message reexpedie|"
        r"anfang der weitergeleiteten nachricht|inicio del mensaje reenviado|"
        r"inicio da mensagem reencaminhada|inizio messaggio inoltrato|"
        r"begin doorgestuurd bericht|start pa videresendt (?:besked|melding)|"
        r"vidarebefordrat brev|valitetty viesti alkaa)\s*:",
        "Apple Mail forward header (EN/FR/DE/ES/PT/IT/NL/DA/NO/SV/FI)",
    ),
    # Outlook on the web / Outlook for HTML mail rendered as text: a rule of underscores above
    # the "From: ... Sent: ..." block.
    (r"_{10,}\s*$", "Outlook's separator line above its header block"),
)
_SEPARATOR = re.compile("|".join(f"(?:{p})" for p, _ in _SEPARATORS), re.I)

# "On <date>, <name> wrote:" attributions (Gmail, Apple Mail, Thunderbird), often wrapped over
# two lines; what matters is the verb that ends them, in each client language:
# EN "wrote:", FR "a écrit :", DE "schrieb:" ("Am ... schrieb X:"), ES "escribió:",
# PT "escreveu:", IT "ha scritto:", NL "schreef:" ("Op ... schreef X:"), DA/NO/SV "skrev:"
# ("Den ... skrev X:"), FI "kirjoitti:" (Gmail's localisations of its attribution line).
_ATTRIBUTION_END = re.compile(
    r"(?:wrote|a ecrit|schrieb|escribio|escreveu|ha scritto|schreef|skrev|kirjoitti)"
    r"(?:\s+\S+){0,6}?\s*:\s*$",
    re.I,
)
_ATTRIBUTION_MAX = 240  # an attribution is one sentence, not a paragraph ending in "wrote:"
# How the clients above open a wrapped attribution: "On", "Le", "Am", "El", "Em", "Il giorno",
# "Op", "Den", or the date itself (Norwegian, Finnish Gmail).
_ATTRIBUTION_OPENER = re.compile(r"^\s*(?:on|le|am|el|em|il|op|den|\d{1,4}[./-])\b", re.I)

# Outlook's header block above quoted mail: a "From:" line with "Sent:/To:/Subject:" just below,
# in the language of the writer's Outlook: EN From/Sent/To/Subject/Date, FR De/Envoyé/À/Objet,
# DE Von/Gesendet/An/Betreff/Datum, ES De/Enviado/Para/Asunto/Fecha, PT De/Enviada/Para/Assunto,
# IT Da/Inviato/A/Oggetto/Data, NL Van/Verzonden/Aan/Onderwerp, DA/NO Fra/Sendt/Til/Emne/Dato,
# SV Från/Skickat/Till/Ämne/Datum, FI Lähettäjä/Lähetetty/Vastaanottaja/Aihe/Päivämäärä.
# Outlook bolds the names in HTML mail, which text renderings show as "*From:*".
_FROM_HEADER = re.compile(r"^\s*\*?(?:from|de|von|da|van|fra|fran|lahettaja)\s*:\*?\s+\S", re.I)
_OTHER_HEADER = re.compile(
    r"^\s*\*?(?:sent|date|to|subject|cc|envoye|a|objet|gesendet|an|betreff|datum|enviado|"
    r"enviada|para|asunto|fecha|assunto|data|inviato|oggetto|verzonden|aan|onderwerp|sendt|"
    r"til|emne|dato|skickat|till|amne|lahetetty|vastaanottaja|aihe|paivamaara)"
    r"(?: el| em| le)?\s*:\*?",
    re.I,
)


def fold(text: str) -> str:
    """Lower case without accents, typographic apostrophes made plain, "ß" as "ss": "Envoyé" →
    "envoye", "Grüße" → "grusse".
    Patterns here and in the approval classifier are written against folded text."""
    if text.isascii():  # nothing to decompose or replace: the common case, and 50x cheaper
        return text.lower()
    decomposed = unicodedata.normalize(
        "NFKD", text.replace("’", "'").replace("ʼ", "'").replace("ß", "ss")
    )
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _ends_attribution(folded: str) -> bool:
    """`_ATTRIBUTION_END.search`, tried only on lines ending in ":" (all it can match): the
    search on every line of a long mail cost ~1 ms (issue 16: duplicate scoring p99)."""
    return folded.rstrip().endswith(":") and bool(_ATTRIBUTION_END.search(folded))


def _is_quote_start(folded: list[str], i: int) -> bool:
    line = folded[i]
    if _SEPARATOR.match(line.strip()):
        return True
    if _ends_attribution(line) and len(line) <= _ATTRIBUTION_MAX:
        return True
    if (
        i + 1 < len(folded)
        and _ATTRIBUTION_OPENER.match(line)
        and not _ATTRIBUTION_OPENER.match(folded[i + 1])
        and _ends_attribution(folded[i + 1])
        and len(line) + len(folded[i + 1]) <= _ATTRIBUTION_MAX
        and not folded[i + 1].lstrip().startswith(">")
    ):
        return True
    if _FROM_HEADER.match(line):
        return any(_OTHER_HEADER.match(other) for other in folded[i + 1 : i + 4])
    return False


def strip_quoted(body: str) -> str:
    """Drop the quoted history of a reply: ">" lines and everything from a reply header on."""
    lines = body.splitlines()
    folded = [fold(line) for line in lines]
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _is_quote_start(folded, i):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept)


# --- signatures, footers, disclaimers ------------------------------------------------------

_SIG_DELIMITER = re.compile(r"^\s*--\s*$")  # RFC 3676 section 4.3: "-- " starts a signature
# Footers mail apps append, by app and language (iOS Mail, Outlook mobile, Android clients).
_MOBILE_FOOTER = re.compile(
    r"^\s*(?:sent from my|sent from outlook|get outlook for|sent via|envoye de mon|"
    r"obtenir outlook pour|von meinem \S+ gesendet|gesendet von meinem|enviado desde mi|"
    r"enviado do meu|enviado a partir do|inviato da(?:l mio)?|verzonden (?:vanaf|met) mijn|"
    r"sendt fra min|skickat fran min|lahetetty (?:iphonesta|androidista))\b",
    re.I,
)
# Legal and environmental footers companies append; the first line of one ends the text.
# Openings as they commonly read in English, French, German, Spanish, Portuguese, Italian,
# Dutch and the Nordic languages.
_DISCLAIMER = re.compile(
    r"^\s*\**\s*(?:confidentiality notice|confidential(?:ity)? (?:notice|disclaimer)|disclaimer|"
    r"privileged (?:and|&) confidential|this (?:e-?mail|message|communication)\b.{0,80}"
    r"\b(?:confidential|privileged|intended (?:only|solely))|"
    r"if you are not the intended recipient|the information (?:contained )?in this (?:e-?mail|message)|"
    r"please consider the environment|"
    r"avis de confidentialite|ce (?:message|courriel|e-?mail)\b.{0,80}\bconfidentiel|"
    r"si vous n'etes pas (?:le )?destinataire|"
    r"diese (?:e-?mail|nachricht)\b.{0,80}\bvertraulich|"
    r"wenn sie nicht der (?:richtige|beabsichtigte) (?:adressat|empfanger)|"
    r"este (?:mensaje|correo)\b.{0,80}\bconfidencial|si usted no es el destinatario|"
    r"esta mensagem\b.{0,80}\bconfidencia|se voce nao (?:e|for) o destinatario|"
    r"questo messaggio\b.{0,80}\briservat|se non siete i destinatari|"
    r"dit (?:bericht|e-?mailbericht)\b.{0,80}\bvertrouwelijk|"
    r"denne (?:e-?mail|meddelelse|meldingen?)\b.{0,80}\bfortrolig|"
    r"detta (?:e-?post|meddelande)\b.{0,80}\bkonfidentiell|"
    r"tama viesti\b.{0,80}\bluottamuksellinen)",
    re.I,
)
# Closings on a line of their own, in the languages above; a signature block follows them.
_CLOSING = re.compile(
    r"^\s*(?:thanks(?: (?:a lot|again|in advance))?|thank you(?: (?:very much|in advance))?|"
    r"many thanks|cheers|best|best regards|kind regards|warm regards|regards|sincerely|"
    r"yours(?: truly| sincerely)?|br|mfg|mit freundlichen grussen|viele grusse|beste grusse|"
    r"cordialement|bien cordialement|bien a vous|merci(?: beaucoup)?|salutations|"
    r"saludos(?: cordiales)?|atentamente|un saludo|cumprimentos|atenciosamente|"
    r"cordiali saluti|distinti saluti|saluti|met vriendelijke groet(?:en)?|groeten|"
    r"med venlig hilsen|venlig hilsen|vennlig hilsen|med vennlig hilsen|"
    r"med vanliga halsningar|vanliga halsningar|halsningar|hilsen|ystavallisin terveisin|"
    r"terveisin)\s*[,.!]?\s*$",
    re.I,
)
# A signature is only the last few short lines; a "Thanks," halfway through a message is text.
_MAX_SIGNATURE_LINES = 8
# Disclaimer wording that also appears mid-line, after a company name or a colon ("ACME Ltd:
# This e-mail is confidential ..."): searched anywhere in the line, in English.
_DISCLAIMER_ANYWHERE = re.compile(
    r"\bif you (?:have )?(?:received this|are not the intended)"
    r"|\b(?:confidentiality|legal) (?:notice|disclaimer)\b"
    r"|\bthis (?:e-?mail|message|communication|transmission)\b.{0,80}"
    r"\b(?:is confidential|may be privileged|intended (?:solely |only )?for)"
    r"|\bintended (?:solely |only )?for the (?:use of the )?(?:addressee|individual|named)"
    r"|\bregistered (?:office|in england)",
    re.I,
)


# Words every match of one `_DISCLAIMER_ANYWHERE` alternative contains. Folded text is lower
# case, and IGNORECASE reads only `_READ_AS_ASCII_LETTERS` as ASCII letters (tests/triggers
# checks every code point): a folded line without them that holds none of these groups whole
# cannot match, and most lines are not searched (~20 us a line: ~1 ms a long mail).
_DISCLAIMER_ANYWHERE_WORDS = (
    ("if you ", "received this"),
    ("if you ", "are not the intended"),
    ("confidentiality ", "notice"),
    ("confidentiality ", "disclaimer"),
    ("legal ", "notice"),
    ("legal ", "disclaimer"),
    ("this ", "is confidential"),
    ("this ", "may be privileged"),
    ("this ", "intended "),
    ("intended ", "for the "),
    ("registered office",),
    ("registered in england",),
)
_READ_AS_ASCII_LETTERS = ("\u0130", "\u0131", "\u017f", "\u212a")


def _is_disclaimer(folded: str) -> bool:
    if _DISCLAIMER.match(folded):
        return True
    if not any(all(w in folded for w in group) for group in _DISCLAIMER_ANYWHERE_WORDS) and (
        folded.isascii() or not any(c in folded for c in _READ_AS_ASCII_LETTERS)
    ):
        return False  # issue 16: duplicate scoring p99
    return bool(_DISCLAIMER_ANYWHERE.search(folded))


def strip_signature(body: str) -> str:
    """Drop what follows the text: a "-- " signature, a mobile footer, a disclaimer of any
    length wherever it starts, or a closing ("Thanks,", "Cordialement,") followed only by a few
    short lines (name, title, phone) and disclaimers. A "Thanks," halfway through a message,
    followed by more of the message, is kept."""
    lines = body.splitlines()
    for i, line in enumerate(lines):
        folded = fold(line)
        if _SIG_DELIMITER.match(line) or _MOBILE_FOOTER.match(folded) or _is_disclaimer(folded):
            return "\n".join(lines[:i])
        if _CLOSING.match(folded):
            rest = [other for other in lines[i + 1 :] if other.strip()]
            first_disclaimer = next(
                (j for j, other in enumerate(rest) if _is_disclaimer(fold(other))), len(rest)
            )
            signature = rest[:first_disclaimer]
            if len(signature) <= _MAX_SIGNATURE_LINES and all(len(o) <= 80 for o in signature):
                return "\n".join(lines[:i])
    return body


def reply_text(body: str) -> str:
    """What the customer wrote this time: text rendering of HTML, no quoted history, no
    signature, footer or disclaimer. Lines are kept (callers split sentences on them)."""
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    if is_html(text):
        text = html_to_text(text)
    text = strip_signature(strip_quoted(text))
    return text.strip()


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str) -> list[str]:
    """Sentences (or lines) of a text: where a reply's decision can be quoted from."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]
