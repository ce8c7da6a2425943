"""``oddsline spec infer``: propose a feature spec for a table, with the reason for every choice."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..features import FeatureSpec
from ..io import read_table
from .read_options import add_read_options, read_options

Subparsers = Any


def add_spec(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "spec",
        help="propose a feature spec for a table (then edit it and train with --spec)",
        description="Feature specs declare how each source column is encoded. `spec infer` reads DATA and "
        "prints a spec with the kind chosen for every column and why, ready to edit.",
        epilog="Example: oddsline spec infer examples/data/telco_churn.csv --target churn > spec.yaml\n"
        "         oddsline train examples/data/telco_churn.csv --target churn --spec spec.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    actions.required = True
    infer = actions.add_parser("infer", help="print a spec inferred from DATA (YAML, or JSON with --json)")
    infer.add_argument("data", metavar="DATA", help="table: .csv, .tsv, .parquet or .arrow")
    infer.add_argument("--target", metavar="COL", help="the label column, left out of the features")
    infer.add_argument(
        "--ignore", action="append", default=[], metavar="COL", help="a column to leave out (repeatable)"
    )
    infer.add_argument("--json", action="store_true", help="print JSON instead of commented YAML")
    add_read_options(infer)
    infer.set_defaults(run=run_spec_infer)


def run_spec_infer(args: argparse.Namespace) -> int:
    spec = FeatureSpec.infer(read_table(args.data, **read_options(args)), target=args.target, ignore=args.ignore)
    if args.json:
        print(json.dumps(spec.to_dict(), indent=2))
    else:
        print(spec.to_yaml(), end="")
    return 0
