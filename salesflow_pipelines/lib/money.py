"""Money rounding of docs/design.md (section 3 rule 7): exact sums, rounded once to cents, half away
from zero, as Java's `BigDecimal` `HALF_UP` does."""

from __future__ import annotations

import numpy as np

# Amounts are decimals of a few places (cents x quantities x discounts); their binary sums sit a
# few ulps from the true value. Snapping to this many decimals of a cent first makes a true half
# cent, stored as ...4999999 or ...5000001, a half again.
_SNAP_DECIMALS = 6


def round_money(amounts):
    """Cents, half away from zero: 57,914.525 -> 57,914.53, -0.125 -> -0.13, 11.115 -> 11.12.

    Takes a scalar, a numpy array or a pandas Series (and answers the same kind); NaN stays NaN.
    """
    cents = np.round(np.abs(amounts) * 100.0, _SNAP_DECIMALS)
    return np.copysign(np.floor(cents + 0.5), amounts) / 100.0 + 0.0
