"""The shared reply parser: only what the customer wrote now, whatever client wrote the mail."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triggers import replies
from triggers.replies import fold, html_to_text, reply_text, sentences, strip_quoted

NEW = "Please wait."
OLDER = "I approve."


@pytest.mark.parametrize(
    "header",
    [
        # Gmail / Apple Mail / Thunderbird attributions, one per language.
        "On Thu, Nov 26, 2026 at 10:00 AM Support <support@mediaocean.com> wrote:",
        "On Thu, Nov 26, 2026 at 10:00 AM Support <\nsupport@mediaocean.com> wrote:",
        "Le jeu. 26 nov. 2026 à 10:00, Support <support@mediaocean.com> a écrit :",
        "Am Do., 26. Nov. 2026 um 10:00 Uhr schrieb Support <support@mediaocean.com>:",
        "El jue, 26 nov 2026 a las 10:00, Support (<support@mediaocean.com>) escribió:",
        "Em qui., 26 de nov. de 2026 às 10:00, Support <support@mediaocean.com> escreveu:",
        "Il giorno gio 26 nov 2026 alle ore 10:00 Support <s@mediaocean.com> ha scritto:",
        "Op do 26 nov. 2026 om 10:00 schreef Support <support@mediaocean.com>:",
        "Den tors. 26. nov. 2026 kl. 10.00 skrev Support <support@mediaocean.com>:",
        "Support (support@mediaocean.com) kirjoitti to 26.11.2026 klo 10.00:",
        # Outlook header blocks, one per language, and its separators.
        "From: Maria <maria@client.example>\nSent: Thursday, November 26, 2026 10:00 AM",
        "*From:* Maria <maria@client.example>\n*Sent:* Thursday, November 26, 2026",
        "De : Maria <maria@client.example>\nEnvoyé : jeudi 26 novembre 2026 10:00",
        "Von: Maria <maria@client.example>\nGesendet: Donnerstag, 26. November 2026",
        "De: Maria <maria@client.example>\nEnviado el: jueves, 26 de noviembre de 2026",
        "De: Maria <maria@client.example>\nEnviada em: quinta-feira, 26 de novembro",
        "Da: Maria <maria@client.example>\nInviato: giovedì 26 novembre 2026 10:00",
        "Van: Maria <maria@client.example>\nVerzonden: donderdag 26 november 2026",
        "Fra: Maria <maria@client.example>\nSendt: 26. november 2026 10:00",
        "Från: Maria <maria@client.example>\nSkickat: den 26 november 2026 10:00",
        "Lähettäjä: Maria <maria@client.example>\nLähetetty: torstai 26. marraskuuta",
        "-----Original Message-----",
        "-----Message d'origine-----",
        "-----Ursprüngliche Nachricht-----",
        "________________________________",
        # Forwards.
        "---------- Forwarded message ---------",
        "---------- Message transféré ---------",
        "Begin forwarded message:",
        "Début du message réexpédié :",
        "Anfang der weitergeleiteten Nachricht:",
    ],
)
def test_quote_headers_of_every_client_language_end_the_new_text(header: str) -> None:
    """A colleague's "I approve." below any of these headers is not part of the reply."""
    assert reply_text(f"{NEW}\n\n{header}\n{OLDER}") == NEW


def test_quoted_lines_are_dropped_and_inline_answers_kept() -> None:
    assert strip_quoted("> Do you approve?\nYes.\n> Anything else?\nNo.") == "Yes.\nNo."


def test_a_sentence_mentioning_someone_is_not_a_header() -> None:
    body = "From: our side it is fine.\nOn Monday we go live."
    assert reply_text(body) == body


@pytest.mark.parametrize(
    "tail",
    [
        "-- \nRita Requester\nNorthwind",
        "Thanks,\nRita Requester\nMedia Buyer | Northwind Agency",
        "Cordialement,\nRita",
        "Mit freundlichen Grüßen\nRita",
        "Met vriendelijke groet,\nRita",
        "Med venlig hilsen\nRita",
        "Sent from my iPhone",
        "Envoyé de mon iPhone",
        "Von meinem iPhone gesendet",
        "Get Outlook for Android",
        "If you are not the intended recipient, do not read, copy or use this e-mail.",
        "CONFIDENTIALITY NOTICE: do not forward. This e-mail is confidential.",
        "Ce message est confidentiel. Si vous n'êtes pas le destinataire, ne le lisez pas.",
        "Diese E-Mail enthält vertrauliche Informationen; bitte nicht weitergeben.",
    ],
)
def test_signatures_footers_and_disclaimers_are_not_the_reply(tail: str) -> None:
    assert reply_text(f"I approve.\n\n{tail}") == "I approve."


def test_a_closing_halfway_through_a_long_message_is_text() -> None:
    lines = ["Thanks,"] + [f"Line {i} of the reply." for i in range(12)]
    assert reply_text("\n".join(lines)).startswith("Thanks,\nLine 0")


def test_html_bodies_are_read_as_their_text_without_quoted_blocks() -> None:
    body = (
        "<html><head><style>p{margin:0}</style></head><body><div dir='ltr'><p>Oui,&nbsp;"
        "allez-y.</p><p>Merci<br>Rita</p></div><div class='gmail_quote'>Le jeu. a écrit :"
        "<blockquote>Tell us if you do not want the change.</blockquote></div></body></html>"
    )
    assert reply_text(body) == "Oui, allez-y."  # "Merci / Rita" is the signature
    outlook = "<div>I approve.</div><div id='divRplyFwdMsg'><b>From:</b> Support</div>No."
    assert reply_text(outlook) == "I approve."
    apple = "<div>Go ahead.</div><blockquote type='cite'>Do not change it.</blockquote>"
    assert html_to_text(apple) == "Go ahead."


def test_plain_text_with_angle_brackets_is_not_html() -> None:
    assert reply_text("Use <campaign id> 4471, yes.") == "Use <campaign id> 4471, yes."


def test_folding_and_sentences() -> None:
    assert fold("Envoyé À Ändern n’est Grüße") == "envoye a andern n'est grusse"
    assert fold("Plain ASCII, Ok?") == "plain ascii, ok?"  # the fast path folds alike
    assert sentences("Oui, allez-y. Merci!\nRita") == ["Oui, allez-y.", "Merci!", "Rita"]


# --- the cheap pre-checks before the per-line searches (issue 16: duplicate scoring p99) ----

_LINE_PIECES = [
    "wrote", "wrote:", " :", ":", " ", "\t", "\u00a0", "On Mon, Ana", "a ecrit", "schrieb",
    "if you ", "if you have received this", "are not the intended", "confidentiality ",
    "legal ", "notice", "disclaimer", "this ", "e-mail", "message", " is confidential",
    "intended ", "solely ", "for the addressee", "registered ", "office", "in england", "x",
    "\u0131f you ", "\u017f", "\u212a", "\u0130", "é", "ß", "<div>", "<", "< p>", "html", "\n",
    "IF YOU ", "THIS E-MAIL", "Ltd:", "Registered Office", "may be privileged", "received this",
    "for the ", "use of the ", "individual", "named", "only ", "communication", "transmission",
]  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_LINE_PIECES), max_size=12))
def test_prechecks_answer_as_the_searches_they_guard(pieces: list[str]) -> None:
    """Each pre-check only skips a search that cannot match: the same answers, folded or not."""
    line = "".join(pieces)
    for text in (line, fold(line)):
        assert replies._ends_attribution(text) == bool(replies._ATTRIBUTION_END.search(text))
        assert replies.is_html(text) == bool(replies._HTML_HINT.search(text))
    folded = fold(line)
    assert replies._is_disclaimer(folded) == bool(
        replies._DISCLAIMER.match(folded) or replies._DISCLAIMER_ANYWHERE.search(folded)
    )


def test_only_the_listed_characters_read_as_ascii_letters_under_ignorecase() -> None:
    """`_is_disclaimer`'s pre-check relies on it, whatever Python's Unicode tables say."""
    letter = re.compile("[a-z]", re.IGNORECASE)
    found = [chr(c) for c in range(128, sys.maxunicode + 1) if letter.fullmatch(chr(c))]
    assert found == list(replies._READ_AS_ASCII_LETTERS)
