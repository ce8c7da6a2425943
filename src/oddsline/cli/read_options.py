"""The options of every verb that reads a data file: how a CSV file is spelled, when sniffing is not enough."""

from __future__ import annotations

import argparse
from typing import Any, TypedDict

__all__ = ["ReadOptions", "add_read_options", "read_options"]


class ReadOptions(TypedDict):
    delimiter: str | None
    encoding: str | None
    na_values: list[str]


def add_read_options(p: Any) -> None:
    group = p.add_argument_group("reading CSV files (sniffed from the first 64 KiB unless given)")
    group.add_argument(
        "--delimiter",
        metavar="CHAR",
        help="field separator: one character such as ',' ';' '|', or '\\t' for tab (default: sniffed)",
    )
    group.add_argument(
        "--encoding",
        metavar="NAME",
        help="text encoding such as utf-8, cp1252, latin-1, utf-16 (default: UTF-8, or Windows-1252 when "
        "the file is not UTF-8)",
    )
    group.add_argument(
        "--na-values",
        metavar="LIST",
        default="",
        help="comma-separated extra markers of a missing value, e.g. '?,-' (always missing: the empty field, "
        "NA, N/A, n/a, NULL, null, NaN, nan, #N/A)",
    )


def read_options(args: argparse.Namespace) -> ReadOptions:
    """The reader's keyword arguments from the parsed command line."""
    markers = [marker.strip() for marker in args.na_values.split(",") if marker.strip()]
    return ReadOptions(delimiter=args.delimiter, encoding=args.encoding, na_values=markers)
