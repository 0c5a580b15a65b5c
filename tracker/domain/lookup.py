"""Which organisation or person an admin meant by what they typed, or what to tell them.

A region has 2,000 organisations and as many people: too many to pick from a list, so the admin
types a name (or an organisation's slug, or a person's email address) instead. The rule:

- a text equal to one record's name or key (case aside) means that record, however many others
  contain it: "Luton" finds the organisation called Luton even beside "Luton Rotary";
- several records with that exact name are told apart by their keys (slugs, email addresses),
  which are unique, so the message names them;
- otherwise a text that is part of exactly one record's name or key means that record;
- part of several: the admin types more (the message names them when there are a few);
- part of none: the message says there is none.

Pure: the service (``tracker.services.lookup``) reads the candidates, this decides.
"""

from __future__ import annotations

from dataclasses import dataclass

# Candidates named in a message, and read for each typed text: enough to pick from by eye.
NAMED = 5
# What an admin typed, as quoted back in a message (a pasted paragraph is not repeated whole).
QUOTED = 60


@dataclass(frozen=True)
class Candidate:
    id: int
    name: str
    key: str  # unique: an organisation's slug, a person's email address


@dataclass(frozen=True)
class Candidates:
    """What the database holds for one typed text: the first few, exact matches first."""

    text: str
    first: list[Candidate]  # at most NAMED, exact matches first, then by name
    exact: int  # how many have the text as their whole name or key, case aside
    partial: int  # how many contain it in their name or key, the exact ones among them


@dataclass(frozen=True)
class Kind:
    """How messages speak of one kind of record."""

    singular: str
    plural: str
    none: str  # with {text}
    key_name: str  # what tells records of one name apart, for "type …"
    more: str  # what to type more of

    def count(self, n: int) -> str:
        return f"{n:,} {self.singular if n == 1 else self.plural}"


ORGANISATION = Kind(
    singular="organisation",
    plural="organisations",
    none="No organisation called ‘{text}’",
    key_name="its slug",
    more="the name",
)
PERSON = Kind(
    singular="person",
    plural="people",
    none="No person with the name or email address ‘{text}’",
    key_name="their email address",
    more="their name or email address",
)


@dataclass(frozen=True)
class Found:
    """The one record meant, or the problem to tell the admin (exactly one of the two)."""

    text: str
    record: Candidate | None = None
    problem: str | None = None


def quoted(text: str) -> str:
    return text if len(text) <= QUOTED else text[: QUOTED - 1].rstrip() + "…"


def decide(candidates: Candidates, kind: Kind) -> Found:
    """The record an admin meant by ``candidates.text``, or why it is not clear which."""
    text, first = candidates.text, candidates.first
    said = quoted(text)
    if candidates.exact == 1:
        return Found(text, record=first[0])
    if candidates.exact > 1:
        keys = ", ".join(c.key for c in first[: candidates.exact])
        more = ", …" if candidates.exact > len(first) else ""
        return Found(
            text,
            problem=(
                f"‘{said}’ is the name of {kind.count(candidates.exact)} ({keys}{more}): "
                f"type {kind.key_name}"
            ),
        )
    if candidates.partial == 1:
        return Found(text, record=first[0])
    if candidates.partial == 0:
        return Found(text, problem=kind.none.format(text=said))
    names = ""
    if candidates.partial <= NAMED:
        names = " (" + ", ".join(c.name for c in first) + ")"
    return Found(
        text,
        problem=(
            f"‘{said}’ matches {kind.count(candidates.partial)}{names}: type more of {kind.more}"
        ),
    )


def typed_lines(text: str | None) -> list[str]:
    """The names typed into a box, one a line: blank lines and repeats left out, case aside."""
    seen: set[str] = set()
    lines = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line and line.casefold() not in seen:
            seen.add(line.casefold())
            lines.append(line)
    return lines
