"""How far a commitment has come toward its numeric target, as a percentage.

DESIGN.md gives a commitment SMART target fields — baseline (value and date), target value and
direction (increase/decrease) — and each quarterly update a "progress value toward the target".
The percentage complete is the share of the way from the baseline to the target:

    (current - baseline) / (target - baseline) × 100

clipped to 0–100 (overshooting the target is 100%, going backwards past the baseline is 0%) and
rounded half up to one decimal place. The same formula serves both directions: emissions down
from a baseline of 1,000 t to a target of 500 t, at 750 t now, are 50% of the way.

- Direction ``None`` is read from the numbers: increase when the target is at or above the
  baseline, decrease otherwise.
- No baseline: an increase is assumed to start from 0 ("400 new homes" from none); a decrease
  has no starting point, so the percentage cannot be known (``None``).
- Target equal to baseline: 100% once the current value has reached it (at or beyond, in the
  target's direction), else 0%.
- No current value, a non-finite number, or a direction that contradicts the numbers (an
  "increase" whose target is below its baseline): ``None``, because nobody can say which way
  is progress, and a wrong figure on a board pack is worse than none.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, localcontext

from tracker.domain.enums import Direction

HUNDRED = Decimal(100)
ZERO = Decimal(0)
_ONE_PLACE = Decimal("0.1")


def percent_complete(
    *,
    baseline: Decimal | int | None,
    target: Decimal | int,
    current: Decimal | int | None,
    direction: Direction | str | None,
) -> Decimal | None:
    """The share of the way from baseline to target, 0–100 to one decimal place, or None."""
    target_ = _decimal(target)
    current_ = _decimal(current)
    baseline_ = _decimal(baseline)
    if target_ is None or current_ is None or (baseline is not None and baseline_ is None):
        return None
    way = _direction(direction, baseline_, target_)
    if baseline_ is None:
        if way is Direction.DECREASE:
            return None
        baseline_ = ZERO
    if (way is Direction.INCREASE and target_ < baseline_) or (
        way is Direction.DECREASE and target_ > baseline_
    ):
        return None
    if target_ == baseline_:
        reached = current_ >= target_ if way is Direction.INCREASE else current_ <= target_
        return _round(HUNDRED if reached else ZERO)
    # Enough precision for Numeric(18, 4) amounts whatever context the caller has set.
    with localcontext() as context:
        context.prec = 40
        share = (current_ - baseline_) / (target_ - baseline_) * HUNDRED
    return _round(min(HUNDRED, max(ZERO, share)))


def progress_label(pct: Decimal | None) -> str:
    """``45.5% of the way``; whole numbers without ``.0``; ``Not measured`` for None."""
    if pct is None:
        return "Not measured"
    rounded = _round(pct)
    text = f"{rounded:f}"
    if text.endswith(".0"):
        text = text[:-2]
    return f"{text}% of the way"


def _direction(
    direction: Direction | str | None, baseline: Decimal | None, target: Decimal
) -> Direction:
    if direction is not None:
        return Direction(direction)
    start = ZERO if baseline is None else baseline
    return Direction.INCREASE if target >= start else Direction.DECREASE


def _decimal(value: Decimal | int | float | None) -> Decimal | None:
    if value is None:
        return None
    # str() keeps a float's shortest form (0.1, not 0.1000000000000000055…).
    number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    return number if number.is_finite() else None


def _round(value: Decimal) -> Decimal:
    # "+ 0" turns a negative zero into zero.
    return value.quantize(_ONE_PLACE, rounding=ROUND_HALF_UP) + 0
