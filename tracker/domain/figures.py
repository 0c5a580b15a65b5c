"""The pledges in figures: how many commitments are tracked, and which are left out, in words.

DESIGN.md ("A year of operation"): every figure is counted once and agrees on every page. A
commitment is **tracked** when it is still on its pledge (not retired) and is not a lead-in
heading; an organisation **has pledged** when it has at least one tracked commitment. Pages say
what the counts leave out, in the same words everywhere (this module), whether they count live
(``services.figures``) or from a board summary's frozen snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


@dataclass(frozen=True)
class CommitmentFigures:
    """How many commitments the pledges hold, and which are left out of the counts."""

    tracked: int
    headings: int
    retired: int
    without_priority: int
    organisations: int  # with at least one tracked commitment
    organisations_without: int  # listed, with nothing to track yet

    @property
    def exclusions(self) -> list[str]:
        """What the counts leave out, in words (empty when nothing is)."""
        said = []
        if self.headings:
            verb = "introduces" if self.headings == 1 else "introduce"
            said.append(f"{_plural(self.headings, 'heading')} that {verb} a list of commitments")
        if self.retired:
            said.append(
                f"{_plural(self.retired, 'commitment')} retired from "
                f"{'its pledge' if self.retired == 1 else 'their pledges'} "
                "(kept in the history)"
            )
        if self.organisations_without:
            said.append(
                f"{_plural(self.organisations_without, 'organisation')} with no commitments "
                "to track yet"
            )
        return said

    @property
    def exclusions_sentence(self) -> str | None:
        """``Not counted: 3 headings that introduce a list of commitments and …``."""
        said = self.exclusions
        if not said:
            return None
        joined = said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]
        return f"Not counted: {joined}."

    @property
    def headline(self) -> str:
        """``335 commitments from 40 organisations``."""
        return (
            f"{_plural(self.tracked, 'commitment')} from "
            f"{_plural(self.organisations, 'organisation')}"
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "tracked": self.tracked,
            "headings": self.headings,
            "retired": self.retired,
            "without_priority": self.without_priority,
            "organisations": self.organisations,
            "organisations_without": self.organisations_without,
        }

    @classmethod
    def from_dict(cls, data: dict[str, int]) -> CommitmentFigures:
        return cls(**{name: int(data.get(name, 0)) for name in cls.__dataclass_fields__})
