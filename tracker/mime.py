"""An email as the bytes an SMTP server receives, written directly rather than through
``email.message.EmailMessage``.

Building each reminder with the email package's default policy (it parses every header it is
given) and flattening it again took about 3 ms of CPU per message, most of the sender's time.
The emails this app sends have one shape — a few headers, a plain-text part and an optional
HTML alternative — so this module writes that shape itself, in about a twentieth of the time,
and the tests read what it writes back with the email package's own parser
(``tests/test_mime.py``).

What it keeps from the email package's rules (RFC 5322, 2045–2047, 6532):

- lines end in CRLF; a header over 78 characters folds at a space, and one with characters
  outside ASCII is written as RFC 2047 encoded words;
- a display name with special characters is quoted; one outside ASCII (or holding what looks
  like an encoded word) is encoded;
- a body that is ASCII with short lines goes as it is (7bit), any other as quoted-printable
  UTF-8, so no line is ever longer than 78 characters;
- a header value can never start a new header: a line break that is not a fold is refused.

An address outside ASCII (an internationalised mailbox) is written as it is in UTF-8, and the
message then needs a server that offers SMTPUTF8 (``is_international``).
"""

from __future__ import annotations

import binascii
import random
import re
from collections.abc import Iterable

__all__ = ["address_header", "compose", "is_international", "text_header"]

# RFC 5322's recommended line length, which the email package also folds at.
MAX_LINE = 78
# "specials" that make a display name need quotes (the set email.utils.formataddr uses).
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')
# 42 bytes are 56 base64 characters: with "=?utf-8?b?", "?=" and "Subject: " a line of 77.
_ENCODED_WORD_BYTES = 42
# A line break in a header value that is not followed by folding whitespace.
_HEADER_BREAK = re.compile(r"\r\n(?![ \t])|\r(?!\n)|(?<!\r)\n")


def is_international(*addresses: str) -> bool:
    """Whether an email between these addresses needs SMTPUTF8 (an address outside ASCII)."""
    return not all(address.isascii() for address in addresses)


def address_header(name: str | None, address: str) -> str:
    """An address header's value: ``name <address>``, or the bare address without a name."""
    if not name:
        return address
    if _needs_encoding(name):
        phrase = _encoded_words(name)
    elif _SPECIALS.search(name):
        phrase = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    else:
        phrase = name
    return f"{phrase} <{address}>"


def text_header(field: str, value: str) -> str:
    """An unstructured header's value (a subject): folded at spaces, encoded when not ASCII."""
    if _needs_encoding(value):
        return _encoded_words(value)
    return _fold(len(field) + 2, value)


def _needs_encoding(text: str) -> bool:
    # Text that merely looks like an encoded word ("=?utf-8?q?…?=") is encoded too, or a mail
    # client would decode it into something else.
    return not text.isascii() or "=?" in text


def _encoded_words(text: str) -> str:
    """``text`` as RFC 2047 encoded words (UTF-8, base64), one per line of at most 77 characters.

    The whole text goes inside the words, spaces too: a reader drops only the folds between
    them, so it reads back exactly (email.header.Header turns some spaces into folds).
    """
    chunks, chunk = [], b""
    for character in text:
        encoded = character.encode("utf-8")
        if len(chunk) + len(encoded) > _ENCODED_WORD_BYTES:
            chunks.append(chunk)
            chunk = b""
        chunk += encoded
    chunks.append(chunk)
    return "\r\n ".join(
        "=?utf-8?b?" + binascii.b2a_base64(chunk, newline=False).decode("ascii") + "?="
        for chunk in chunks
    )


def _fold(used: int, value: str) -> str:
    """Break ``value`` before spaces so lines stay within MAX_LINE where a space allows it."""
    if used + len(value) <= MAX_LINE:
        return value
    words = value.split(" ")
    lines = [words[0]]
    width = used + len(words[0])
    for word in words[1:]:
        # A fold keeps the space (it starts the next line), so unfolding gives back the value.
        # Never fold before an empty word: a line of nothing but a space is not allowed.
        if word and width + 1 + len(word) > MAX_LINE:
            lines.append(" " + word)
            width = 1 + len(word)
        else:
            lines[-1] += " " + word
            width += 1 + len(word)
    return "\r\n".join(lines)


def compose(headers: Iterable[tuple[str, str]], text: str, html: str | None = None) -> bytes:
    """The whole message: ``headers`` (values already encoded), then the text and HTML parts.

    A header value must be ASCII unless the message is international (SMTPUTF8).
    """
    lines = []
    for field, value in headers:
        if _HEADER_BREAK.search(value):
            # Callers check their values for line breaks; this keeps any that slipped through
            # from adding a header (a Bcc, say) of their choosing.
            raise ValueError(f"{field} contains a line break: {value!r}")
        lines.append(f"{field}: {value}\r\n")
    lines.append("MIME-Version: 1.0\r\n")
    head = "".join(lines).encode("utf-8")
    plain = _text_part(text, "plain")
    if html is None:
        return head + plain
    rich = _text_part(html, "html")
    boundary = _boundary(plain, rich)
    return b"".join(
        (
            head,
            b'Content-Type: multipart/alternative;\r\n boundary="' + boundary + b'"\r\n\r\n',
            b"--" + boundary + b"\r\n",
            plain,
            b"\r\n--" + boundary + b"\r\n",
            rich,
            b"\r\n--" + boundary + b"--\r\n",
        )
    )


def _text_part(text: str, subtype: str) -> bytes:
    """A text part's headers and body, in 7bit when it can be and quoted-printable otherwise."""
    # Any line ending (\n, \r\n or a lone \r) becomes one, as the email package does.
    body = b"\n".join(text.encode("utf-8").splitlines()) + b"\n"
    if body.isascii() and max(len(line) for line in body.split(b"\n")) <= MAX_LINE:
        encoding = b"7bit"
    else:
        encoding = b"quoted-printable"
        # Lines of at most 76 characters, with "=" soft breaks; binascii is the C encoder the
        # quopri module uses.
        body = binascii.b2a_qp(body, istext=True)
    return (
        b"Content-Type: text/" + subtype.encode("ascii") + b'; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: " + encoding + b"\r\n\r\n" + body.replace(b"\n", b"\r\n")
    )


def _boundary(*parts: bytes) -> bytes:
    """A multipart boundary that none of the parts contains."""
    while True:
        # Like the email package's, random but not secret: no system call per message.
        boundary = b"===============%024x==" % random.getrandbits(96)
        if not any(boundary in part for part in parts):
            return boundary
