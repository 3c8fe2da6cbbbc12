"""Figures a CRM displays rounded: a shown figure is right when it equals the exact value rounded to the
decimals it is shown with.  Display rounding is not a tolerance: 37 for 37.4 % is right, 37 for 37.6 % is
wrong, and 37.4 for 37.46 % is wrong."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

MAX_DECIMALS = 6  # a float shown with more decimals than this is compared at this precision


def decimals_of(shown: float) -> int:
    """How many decimals the figure is shown with (``37.0`` and ``37``: none; ``37.45``: two)."""
    exponent = Decimal(repr(float(shown))).normalize().as_tuple().exponent
    return min(MAX_DECIMALS, max(0, -int(exponent)))


def shown_right(shown: float, exact: Fraction) -> bool:
    """Whether ``shown`` is ``exact`` rounded to the figure's own decimals (either rule for a half)."""
    places = decimals_of(shown)
    return abs(Fraction(Decimal(repr(float(shown)))) - exact) <= Fraction(1, 2 * 10**places)


def percent(part: int, whole: int) -> Fraction:
    """``part`` of ``whole`` in percent, exactly (0 for an empty whole)."""
    return Fraction(100 * part, whole) if whole else Fraction(0)


def approx(value: Fraction, places: int = 2) -> float:
    """An exact value written for the evidence."""
    return round(float(value), places)
