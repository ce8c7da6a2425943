"""How the command prints data: ``--json`` output, one document, indented, NaN refused."""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["print_json"]


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str, allow_nan=False)
    sys.stdout.write("\n")
