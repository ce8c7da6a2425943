"""What may name a model or an alias, and how a reference like ``churn@champion`` is read.

Names never become paths (artifacts are stored by SHA-256), but they appear in URLs, logs and shell
commands, so they are held to a strict pattern; anything else is refused with the pattern named.
"""

from __future__ import annotations

import re

from .._exceptions import RegistryError

__all__ = ["NAME_PATTERN", "check_name", "parse_reference"]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_NAME = re.compile(NAME_PATTERN)


def check_name(name: object, what: str = "model name") -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise RegistryError(
            f"{what} {name!r} is not allowed: use letters, digits, '.', '_' and '-' (pattern {NAME_PATTERN}, no '..')"
        )
    return name


def parse_reference(reference: str) -> tuple[str, str | int | None]:
    """``name`` (latest version), ``name@3`` or ``name@v3`` (a version), ``name@alias``."""
    if not isinstance(reference, str):
        raise RegistryError(f"a model reference is a string like churn@champion, got {reference!r}")
    name, _, selector = reference.partition("@")
    check_name(name)
    if not selector:
        return name, None
    digits = selector[1:] if selector[:1] in ("v", "V") and selector[1:].isdigit() else selector
    if digits.isdigit():
        return name, int(digits)
    return name, check_name(selector, "alias")
