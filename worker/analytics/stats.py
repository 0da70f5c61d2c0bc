"""Small statistics on the standard library: median, two-proportion z-test, sample size."""

from __future__ import annotations

import math
from statistics import median as _median

# Two-sided alpha 0.05 and power 0.8: the standard normal quantiles 0.975 and 0.8.
Z_ALPHA_005 = 1.959963984540054
Z_POWER_080 = 0.8416212335729143


def rate(part: int, whole: int) -> float | None:
    """``part / whole``, or None when ``whole`` is 0."""
    return part / whole if whole else None


def median(values: list[float]) -> float | None:
    """The median, or None for no values."""
    return float(_median(values)) if values else None


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test of ``x1/n1`` against ``x2/n2``.

    ``z = (p1 - p2) / sqrt(p (1 - p) (1/n1 + 1/n2))`` with the pooled ``p = (x1 + x2) /
    (n1 + n2)``, and ``p-value = 2 (1 - Φ(|z|)) = erfc(|z| / √2)``. None when either group is
    empty or the pooled proportion is 0 or 1 (no variance).
    """
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return None
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


def sample_size_per_group(
    p1: float, p2: float, z_alpha: float = Z_ALPHA_005, z_power: float = Z_POWER_080
) -> int | None:
    """Observations per group to detect ``p1`` vs ``p2`` (two-sided alpha 0.05, power 0.8).

    ``n = (z_a sqrt(2 p (1 - p)) + z_b sqrt(p1 (1 - p1) + p2 (1 - p2)))² / (p1 - p2)²`` with
    ``p = (p1 + p2) / 2``, rounded up. None when the proportions are equal.
    """
    if p1 == p2:
        return None
    mean = (p1 + p2) / 2
    top = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_power * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    return math.ceil(top**2 / (p1 - p2) ** 2)
