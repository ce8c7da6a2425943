"""Prometheus durations ("90s", "1h30m", "500ms"), read into seconds and written back: the rules
generator validates the windows it is given and can compress every window in time (``--speedup``),
so a rehearsal against a live Prometheus takes minutes instead of hours."""

from __future__ import annotations

import re

from .._exceptions import ParameterError

__all__ = ["duration", "seconds"]

# Prometheus' units (model.ParseDuration), largest first so that writing picks the shortest form.
_UNITS = (("y", 365 * 86400.0), ("w", 7 * 86400.0), ("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0))
_PART = re.compile(r"(\d+)(ms|y|w|d|h|m|s)")
_SIZE = dict(_UNITS) | {"ms": 0.001}


def seconds(text: str, option: str = "duration") -> float:
    """The length of a Prometheus duration in seconds; ``option`` names the flag in the error."""
    parts = _PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ParameterError(
            f"{option} {text!r} is not a Prometheus duration: write a whole number and a unit, e.g. 30s, 10m, 6h "
            "or 1h30m (units ms, s, m, h, d, w, y)"
        )
    total = sum(int(n) * _SIZE[u] for n, u in parts)
    if total <= 0:
        raise ParameterError(f"{option} {text!r} must be longer than zero")
    return total


def duration(length: float) -> str:
    """``length`` seconds as a Prometheus duration, to the millisecond ("2m", "1m30s", "750ms")."""
    left = max(round(length * 1000), 1)
    if left % 1000:
        return f"{left}ms"
    left //= 1000
    out = ""
    for unit, size in _UNITS:
        count, left = divmod(left, int(size))
        if count:
            out += f"{count}{unit}"
    return out
