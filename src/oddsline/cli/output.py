"""How the command prints data: ``--json`` output, one document, indented, NaN refused; and the facts of
a training run that every model kind reports the same way."""

from __future__ import annotations

import json
import sys
from typing import Any

__all__ = ["print_fit_facts", "print_json"]


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str, allow_nan=False)
    sys.stdout.write("\n")


def print_fit_facts(info: dict[str, Any]) -> None:
    """Rows dropped, columns left out (with the reason), reference levels and aliased columns of an
    unpenalised fit, and how the solver ended — from a model's ``info``."""
    if info.get("rows_dropped_missing_target"):
        print(f"dropped {info['rows_dropped_missing_target']} rows whose target was empty (--drop-missing-target)")
    for name, reason in info.get("ignored_columns", {}).items():
        print(f"left out {name!r}: {reason}")
    if info.get("reference_levels"):
        levels = ", ".join(f"{name}={level!r}" for name, level in info["reference_levels"].items())
        print(f"unpenalised fit, categorical columns coded against a reference level (spec `reference:`): {levels}")
    if info.get("aliased"):
        print(f"aliased (no estimate, as R's NA): {', '.join(info['aliased'])}")
    fit = info["fit"]
    print(
        f"solver {fit['solver']}: {fit['n_iter']} iterations, converged={fit['converged']}, "
        f"max |gradient| {fit['grad_norm']:.1e}"
    )
