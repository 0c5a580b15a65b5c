"""Emails written as bytes (tracker.mime) read back the same through Python's email parser."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker import mime
from tracker.mail import _PLAIN_ADDRESS, safe_header

SENDER = ("Luton 2040 Pledge Tracker", "no-reply@pledges.example.org")


def write(
    *,
    name: str | None = "Ada Lead",
    address: str = "lead@example.org",
    subject: str = "Your 2024/25 Q1 return is due in 7 days",
    text: str = "Please submit your return.\n",
    html: str | None = "<p>Please submit your return.</p>\n",
) -> bytes:
    headers = [
        ("From", mime.address_header(*SENDER)),
        ("To", mime.address_header(name, address)),
        ("Subject", mime.text_header("Subject", subject)),
        ("Message-ID", "<notification-1.0123456789ab@pledges.example.org>"),
    ]
    return mime.compose(headers, text, html)


def read(data: bytes) -> EmailMessage:
    return cast(EmailMessage, message_from_bytes(data, policy=policy.default))


def lines_as_written(text: str) -> str:
    """A body as a reader gets it: each line break (LF, CRLF or CR) a CRLF, and one at the end."""
    lines = text.encode().splitlines()
    return "".join(line.decode() + "\r\n" for line in lines) or "\r\n"


def assert_well_formed(data: bytes) -> None:
    # Every line ends in CRLF, with no bare CR or LF (SMTP needs CRLF; smtplib sends bytes as
    # they are), and none is longer than SMTP's limit of 998 characters.
    assert data.endswith(b"\r\n")
    lines = data[:-2].split(b"\r\n")
    assert all(b"\r" not in line and b"\n" not in line for line in lines)
    assert max(len(line) for line in lines) <= 998


def test_a_reminder_reads_back_with_its_headers_and_both_parts():
    data = write()

    message = read(data)
    assert message["From"].addresses == (Address(*SENDER[:1], addr_spec=SENDER[1]),)
    assert message["To"].addresses == (Address("Ada Lead", addr_spec="lead@example.org"),)
    assert message["Subject"] == "Your 2024/25 Q1 return is due in 7 days"
    assert message["Message-ID"] == "<notification-1.0123456789ab@pledges.example.org>"
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)).get_content() == "Please submit your return.\r\n"
    assert message.get_body(("html",)).get_content() == "<p>Please submit your return.</p>\r\n"
    assert message.defects == []
    assert_well_formed(data)
    # Short ASCII lines go as they are, readable in the raw message.
    assert b"Content-Transfer-Encoding: 7bit\r\n\r\nPlease submit your return.\r\n" in data


def test_without_html_the_message_is_plain_text():
    message = read(write(html=None))

    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Please submit your return.\r\n"


@pytest.mark.parametrize(
    "name",
    [
        "Zoë O'Brien, MBE",  # outside ASCII, and a comma
        "O'Brien, Ada",  # a comma would split the address list unless quoted
        'Ada "The Lead" Smith\\',  # quotes and a backslash, escaped inside the quotes
        "=?utf-8?q?Bob?=",  # looks like an encoded word: must not turn into "Bob"
        "李雷",
        "x" * 200,
        "Zoë " * 7 + "O'B",  # 38 bytes: the most of one encoded word, nearly
    ],
)
def test_display_names_read_back_exactly(name):
    data = write(name=name)

    [recipient] = read(data)["To"].addresses
    assert (recipient.display_name, recipient.addr_spec) == (name, "lead@example.org")
    assert_well_formed(data)


@pytest.mark.parametrize(
    "subject",
    [
        "Zoë's Café, Luton Bcc: attacker@example.com: your return is due",
        "Organisation with a long name: " + "your 2024/25 Q1 return is 3 days overdue " * 6,
        "Word" * 75,  # no space to fold at: one long line, still under SMTP's limit
        "=?utf-8?q?not_an_encoded_word?=",
        "Ünïcödé " * 30,
    ],
)
def test_subjects_read_back_exactly_and_fold_to_short_lines(subject):
    data = write(subject=subject)

    assert read(data)["Subject"] == subject
    head = data.split(b"\r\n\r\n", 1)[0]
    if " " in subject:
        assert max(len(line) for line in head.split(b"\r\n")) <= mime.MAX_LINE
    assert_well_formed(data)


@pytest.mark.parametrize(
    "text",
    [
        "A line of more than seventy-eight characters, which quoted-printable breaks softly" * 3,
        "Trailing spaces   \nand tabs\t\n",
        "Zoë's Café\n£5 — “quotes”\n",
        ".\nA lone dot above (SMTP ends the message there unless it is doubled)\n.\n",
        "From the start of a line\n",
        "Windows\r\nline\rendings\r\n",
        "No newline at the end",
        "",
        "= signs = and =3D look-alikes\n",
    ],
)
def test_bodies_read_back_exactly_in_7bit_or_quoted_printable(text):
    data = write(text=text, html=f"<p>{text}</p>")

    message = read(data)
    assert message.get_body(("plain",)).get_content() == lines_as_written(text)
    assert message.get_body(("html",)).get_content() == lines_as_written(f"<p>{text}</p>")
    # No line of the body is longer than 78 characters, whatever the text's lines.
    body = data.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= mime.MAX_LINE
    assert_well_formed(data)


@pytest.mark.parametrize(
    "value", ["Hi\r\nBcc: attacker@example.com", "Hi\nBcc: a@example.com", "Hi\rX: y"]
)
def test_a_line_break_in_a_header_value_is_refused(value):
    with pytest.raises(ValueError, match="line break"):
        mime.compose([("Subject", value)], "text")


def test_an_address_outside_ascii_is_international():
    assert mime.is_international("no-reply@example.org", "zoë@example.org")
    assert not mime.is_international("no-reply@example.org", "zoe@example.org")


# Names and subjects as safe_header leaves them (the callers' clean-up): no control characters,
# and any whitespace a single space. (A reader folds runs of whitespace in a name to one space.)
_header_text = st.text(min_size=1, max_size=120).filter(lambda text: safe_header(text) == text)


# Python's parser puts a space between the encoded words of a long name (RFC 2047 says to drop
# the fold between them: see the next test), so the names here fit in one encoded word.
_short_name = _header_text.filter(lambda name: len(name.encode()) <= 42)


def test_a_long_name_outside_ascii_is_several_encoded_words_that_decode_to_it():
    name = ("Zoë O'Brien " * 12).strip()

    value = mime.address_header(name, "lead@example.org")

    phrase, address = value.rsplit(" ", 1)
    assert address == "<lead@example.org>"
    assert max(len(line) for line in f"To: {value}".split("\r\n")) <= mime.MAX_LINE
    assert str(make_header(decode_header(phrase))) == name


@settings(max_examples=100, deadline=None)
@given(name=_short_name, subject=_header_text, text=st.text(max_size=400), html=st.text())
def test_any_text_reads_back_exactly(name, subject, text, html):
    data = write(name=name, subject=subject, text=text, html=html)

    message = read(data)
    assert message["To"].addresses[0].display_name == name
    assert message["Subject"] == subject
    assert message.get_body(("plain",)).get_content() == lines_as_written(text)
    assert message.get_body(("html",)).get_content() == lines_as_written(html)
    assert_well_formed(data)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(_PLAIN_ADDRESS, fullmatch=True))
def test_every_address_the_quick_check_passes_is_one_the_email_package_accepts(address):
    parsed = Address(addr_spec=address)
    assert parsed.username and parsed.domain
    assert parsed.addr_spec == address
