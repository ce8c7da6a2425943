"""``oddsline export onnx MODEL --out model.onnx``."""

from __future__ import annotations

import argparse
from typing import Any

from .references import load_model

Subparsers = Any


def add_export(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "export",
        help="export a model to another runtime (ONNX)",
        description="Export MODEL's feature transforms and linear score as an ONNX graph (inputs: one [N, 1] tensor "
        "per source column; output: probability). Transforms ONNX cannot express exactly are refused, named.",
        epilog="Example: oddsline export onnx churn@champion --out churn.onnx",
    )
    formats = p.add_subparsers(dest="format", metavar="FORMAT", parser_class=type(p))
    formats.required = True
    onnx = formats.add_parser("onnx", help="write an ONNX model (opset 17, ai.onnx.ml 3)")
    onnx.add_argument("model", metavar="MODEL", help="an .odl file or a registry reference NAME@ALIAS")
    onnx.add_argument("--out", required=True, metavar="FILE", help="the .onnx file to write")
    onnx.set_defaults(run=run_export_onnx)


def run_export_onnx(args: argparse.Namespace) -> int:
    from ..export import export_onnx

    model = load_model(
        args.model,
        verb="oddsline export onnx",
        instead="the graph's output is one probability; score a multinomial model with oddsline predict, "
        "oddsline serve or in Python",
    )
    path = export_onnx(model, args.out)
    print(f"ONNX model written to {path}")
    return 0
