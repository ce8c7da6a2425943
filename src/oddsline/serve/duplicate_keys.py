"""Duplicate keys in a JSON body: refused, because parsers disagree on which value counts.

``{"tenure": 1, "tenure": 5}`` is scored with 5 by msgspec and the standard library, and with 1 by
others; a gateway that inspected the first value and a model that scored the last would disagree
silently. The scan is compiled (``_jsonkeys.c``, about a millisecond per megabyte); without a compiler,
or for a key written with an escape, the standard library's parser finds it (tens of milliseconds per
megabyte, only on those bodies).
"""

from __future__ import annotations

import json
from typing import Any

try:
    from . import _jsonkeys  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler
    _jsonkeys = None

__all__ = ["COMPILED", "duplicate_key"]

COMPILED = _jsonkeys is not None


def duplicate_key(body: bytes) -> str | None:
    """The first key that appears twice within one object of ``body``, or None. Malformed JSON is not
    this function's to report: it answers None and leaves that to the parser."""
    if _jsonkeys is not None:
        found = _jsonkeys.duplicate_key(body)
        if found is not True:  # True: a key with an escape, which only a full parse can compare
            return found  # type: ignore[no-any-return]
    return _duplicate_by_parse(body)


def _duplicate_by_parse(body: bytes) -> str | None:
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> None:
        keys = [key for key, _ in items]
        if not found and len(set(keys)) < len(keys):
            seen: set[str] = set()
            found.append(next(key for key in keys if key in seen or seen.add(key)))  # type: ignore[func-returns-value]

    try:
        json.loads(body, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return None
    return found[0] if found else None
