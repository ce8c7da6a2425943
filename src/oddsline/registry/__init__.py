"""The model registry: versions, aliases, audit, gate; SQLite by default, PostgreSQL by URL."""

from .names import NAME_PATTERN, check_name, parse_reference
from .registry import Registry

__all__ = ["NAME_PATTERN", "Registry", "check_name", "parse_reference"]
