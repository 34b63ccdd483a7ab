"""Normalisation of e-mail noise in ticket subjects and first comments, and tokenisation."""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triggers.duplicates import normalise as nz

REPLY_WITH_QUOTE = """Hi team,

The March invoices still do not show up in the billing portal for our agency.

Thanks,
Priya Raman
Northwind Media | +1 555 0100

On Tue, 3 Mar 2026 at 10:02, Mediaocean Support <support@example.com>
wrote:
> Hello Priya, the invoices were republished this morning.
> Kind regards
"""

OUTLOOK_FORWARD = """Please see below, the export is failing again.

________________________________
From: Tom Baker <tom@example.com>
Sent: Monday, March 2, 2026 9:14 AM
To: Support <support@example.com>
Subject: Export failing

The nightly export stopped at 02:00.
"""

ORIGINAL_MESSAGE = """Same problem as yesterday with the media plan approval.
-----Original Message-----
From: someone@example.com
approval stuck
"""


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("RE: FW: Invoices missing", "Invoices missing"),
        ("Re[2]: Fwd: AW: Login fails", "Login fails"),
        ("[Ticket #48213] Invoices missing", "Invoices missing"),
        ("Ticket 48213 - export stuck", "- export stuck"),
        ("  Report   broken\tagain ", "Report broken again"),
        ("Reset password", "Reset password"),  # "Re" inside a word is not a prefix
    ],
)
def test_subject_prefixes_and_ticket_numbers_are_removed(subject: str, expected: str) -> None:
    assert nz.normalise_subject(subject) == expected


def test_reply_keeps_only_the_new_text() -> None:
    """Greeting, signature and the quoted older mail (two-line "On ... wrote:") go away."""
    assert nz.normalise_body(REPLY_WITH_QUOTE) == (
        "The March invoices still do not show up in the billing portal for our agency."
    )


def test_outlook_forward_header_starts_the_quote() -> None:
    assert nz.normalise_body(OUTLOOK_FORWARD) == "Please see below, the export is failing again."


def test_original_message_separator_starts_the_quote() -> None:
    assert nz.normalise_body(ORIGINAL_MESSAGE) == (
        "Same problem as yesterday with the media plan approval."
    )


def test_gt_quoted_lines_are_dropped_wherever_they_are() -> None:
    body = "Still broken.\n> old text one\n> old text two\nAny update?"
    assert nz.normalise_body(body) == "Still broken. Any update?"


def test_signature_delimiter_and_mobile_footer_end_the_text() -> None:
    assert nz.normalise_body("Report is empty.\n-- \nJane\nAcme") == "Report is empty."
    assert nz.normalise_body("Report is empty.\n\nSent from my iPhone") == "Report is empty."


def test_thanks_in_the_middle_of_a_long_message_is_kept() -> None:
    """A closing word only starts a signature near the end of the message."""
    lines = ["Thanks,"] + [f"Step {i}: the export stopped at row {i}." for i in range(12)]
    text = nz.normalise_body("\n".join(lines))
    # The message after it stays; the lone "Thanks," is a pleasantry, never evidence.
    assert text.startswith("Step 0: the export stopped at row 0.")
    assert text.endswith("row 11.")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "Hi team, the budget column shows zero. Thanks in advance, Nina Planner, Acme Media",
            "the budget column shows zero.",
        ),
        (
            "Bonjour, j'espère que vous allez bien. La colonne budget affiche zéro. "
            "Merci d'avance pour votre aide. Cordialement, Nina",
            "La colonne budget affiche zéro.",
        ),
        (
            "Hello, hope you are well. Can you please help? Thanks in advance! Kind regards, Rita",
            "",
        ),
        ("The export fails.\n\n🙏🙏 Rita", "The export fails."),
        ("Hope this email finds you well.\nThe export fails.\nRegards, Nina", "The export fails."),
        # A closing word followed by the problem is text, not a sign-off.
        (
            "Thanks, the export still fails with a timeout.",
            "Thanks, the export still fails with a timeout.",
        ),
        ("Please help, the export fails.", "Please help, the export fails."),
    ],
)
def test_pleasantries_and_inline_sign_offs_are_not_issue_text(body: str, expected: str) -> None:
    assert nz.normalise_body(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (  # Zendesk Chat's transcript: header, the widget's greeting, times and speakers
            "Chat started: 2026-11-29 09:01 AM UTC\n\n(09:01:02 AM) Mediaocean: Welcome to "
            "Mediaocean! A member of our team will be with you shortly.\n"
            "(09:01:40 AM) Rita Requester: invoice 4471 has the wrong vendor",
            "invoice 4471 has the wrong vendor",
        ),
        (  # messaging without times: the visitor's name on every line, a lone "Hi"
            "Rita Requester: Hi\nRita Requester: The invoice 4471 shows the wrong vendor.",
            "The invoice 4471 shows the wrong vendor.",
        ),
        ("Steps: one\nResult: fails", "Steps: one Result: fails"),  # labels, not speakers
    ],
)
def test_chat_and_messaging_scaffolding_is_not_issue_text(body: str, expected: str) -> None:
    assert nz.normalise_body(body) == expected


def test_auto_reply_wording_beyond_out_of_office() -> None:
    body = (
        "Thank you for your email. I am currently travelling with limited access to email and "
        "will respond on my return on 3 December."
    )
    assert nz.is_auto_reply("Thank you for your email", body)
    assert not nz.is_auto_reply("Travelling", "I am travelling and cannot log in to Prisma.")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Hi team, the report fails.", "the report fails."),
        ("Hello\nThe report fails.", "The report fails."),
        ("Dear Support,\n\nThe report fails.", "The report fails."),
        ("Good morning! The report fails.", "The report fails."),
        ("Highlights are missing in the report.", "Highlights are missing in the report."),
    ],
)
def test_greetings_are_removed(body: str, expected: str) -> None:
    assert nz.normalise_body(body) == expected


def test_ticket_references_are_extracted_before_they_are_removed() -> None:
    text = "Same as ticket 48213 and #48220, see [Ticket #123]; case no. 7781; version 2.3"
    assert nz.ticket_references(text) == frozenset({48213, 48220, 123, 7781})
    stripped = nz.strip_ticket_numbers(text)
    assert "48213" not in stripped and "123" not in stripped and "2.3" in stripped


def test_words_drop_stopwords_and_single_letters() -> None:
    assert nz.words("The Export of a CSV file is failing, i.e. it's broken") == [
        "export",
        "csv",
        "file",
        "failing",
        "broken",
    ]


def test_bigrams_and_character_ngrams() -> None:
    assert nz.word_bigrams(["export", "csv", "fails"]) == ["export csv", "csv fails"]
    grams = nz.char_ngrams(["csv"], 3, 4)
    assert grams == [" cs", "csv", "sv ", " csv", "csv "]


def test_sentences_split_on_punctuation_and_lines() -> None:
    assert nz.split_sentences("One thing. Another!\nThird line") == [
        "One thing.",
        "Another!",
        "Third line",
    ]


_REFERENCE_PIECES = [
    "#", "# ", "ticket", "Ticket ", "TICKET#", "req", "request", "Case", "incident", "no.",
    "nr", "number", "id", ":", " ", "[", "]", "\n", "12", "123", "1234567890123", "7", "x",
    "_", "-", "#12", "ticket#12", "[#34]", "é", "İ", "K", "ſ", "ı", "ß", "caſe", "tic\u212aet",
    "ᵢ", "incİdent", "ＲＥＱ", "１２",
]  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(_REFERENCE_PIECES), max_size=14))
def test_ticket_references_find_what_the_plain_scan_finds(pieces: list[str]) -> None:
    """The anchored scan finds exactly the numbers the regex finds at every position,
    brackets, overlaps and non-ASCII text (anchors under the regex's case rules) included."""
    text = "".join(pieces)
    plain = frozenset(int(m.group(1)) for m in nz._TICKET_REF.finditer(text))
    assert nz.ticket_references(text) == plain


def test_lower_case_finds_every_character_the_pattern_reads_as_an_anchor_letter() -> None:
    """`ticket_references` finds anchors in `text.lower()` unless the text has one of
    `_LOWER_MISSES`: every other code point the pattern's IGNORECASE reads as an anchor letter
    lower-cases to that letter, and none changes length (positions stay), whatever Python's
    Unicode tables say."""
    letters = "".join(sorted(set("".join(nz._REF_ANCHORS))))
    reads_as_letter = re.compile(f"[{re.escape(letters)}]", re.IGNORECASE)
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if char in nz._LOWER_MISSES:
            continue
        lower = char.lower()
        assert len(lower) == 1, hex(code)
        if reads_as_letter.fullmatch(char):
            assert lower in letters and re.fullmatch(re.escape(lower), char, re.I), hex(code)
