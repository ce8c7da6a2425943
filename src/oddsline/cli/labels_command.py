"""``oddsline labels ingest`` (late labels joined to logged predictions) and ``oddsline labels
performance`` (the model measured on its labelled predictions, by window and version)."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
from typing import Any

from .._exceptions import ParameterError
from .output import print_json

Subparsers = Any


def _home(name: str) -> str:
    return os.path.join(os.environ.get("ODDSLINE_HOME") or ".oddsline", name)


def duration(text: str) -> dt.timedelta:
    """'90s', '15m', '6h', '1d', '2w' -> a timedelta."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 30m, 6h, 1d or 2w")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[found.group(2)]
    return dt.timedelta(seconds=float(found.group(1)) * unit)


def add_labels(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "labels",
        help="ingest late labels and measure the model on its labelled predictions",
        description="Labels arrive after the predictions: `ingest` stores a table of labels (never rewritten) and "
        "joins them to the prediction log by prediction id (the request id, or '<request id>:<row>' for a row of a "
        "batch) or by an entity column; `performance` measures the model on the labelled predictions by time "
        "window and model version.",
        epilog="Example: oddsline labels ingest outcomes.csv --id request_id --label churned --time resolved_at",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    actions.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log", default=None, metavar="DIR", help="prediction log (default $ODDSLINE_HOME/predictions)"
    )
    common.add_argument("--labels", default=None, metavar="DIR", help="label store (default $ODDSLINE_HOME/labels)")
    common.add_argument("--entity", metavar="COL", help="join by this column of the logged features instead of ids")
    common.add_argument("--json", action="store_true", help="print JSON")

    ingest = actions.add_parser("ingest", parents=[common], help="store a table of labels and report the join")
    ingest.add_argument("data", metavar="FILE", help="labels table: .csv, .parquet, ...")
    ingest.add_argument("--id", required=True, metavar="COL", help="column with the prediction (or entity) id")
    ingest.add_argument("--label", required=True, metavar="COL", help="column with the observed label")
    ingest.add_argument("--time", metavar="COL", help="column with when the label became known (default: now)")
    ingest.add_argument(
        "--late-after", type=duration, default=dt.timedelta(days=30), metavar="DURATION", help="count as late (30d)"
    )
    ingest.set_defaults(run=run_ingest)

    performance = actions.add_parser(
        "performance", parents=[common], help="metrics of the labelled predictions per window and version"
    )
    performance.add_argument("--model", required=True, metavar="MODEL", help="file or NAME@ALIAS (its classes)")
    performance.add_argument("--window", type=duration, default=dt.timedelta(days=1), metavar="DURATION")
    performance.set_defaults(run=run_performance)


def run_ingest(args: argparse.Namespace) -> int:
    from ..io import read_table
    from ..monitor.labels import ingest_labels

    report = ingest_labels(
        read_table(args.data),
        id_column=args.id,
        label_column=args.label,
        time_column=args.time,
        log_folder=args.log or _home("predictions"),
        labels_folder=args.labels or _home("labels"),
        entity=args.entity,
        late_after=args.late_after,
    )
    if args.json:
        print_json(report)
        return 0
    print(
        f"{report['rows']} label rows: {report['stored']} stored, {report['refused_missing_id_or_label']} refused "
        f"(no id or no label), {report['duplicated']} duplicated (the latest wins)"
    )
    print(
        f"joined: {report['matched']} matched a logged prediction, {report['unknown']} unknown so far "
        f"(kept; matched when their prediction is logged), {report['late']} late"
    )
    if report["delay_seconds"]:
        d = report["delay_seconds"]
        print(f"label delay: median {d['p50'] / 3600:.1f} h, p90 {d['p90'] / 3600:.1f} h, max {d['max'] / 3600:.1f} h")
    return 0


def run_performance(args: argparse.Namespace) -> int:
    from ..monitor.labels import labelled_predictions, windowed_performance
    from .references import load_model

    model = load_model(
        args.model,
        verb="oddsline labels performance",
        instead="it measures labelled predictions of a positive class; evaluate a multinomial model on labelled "
        "rows with oddsline evaluate",
    )
    joined = labelled_predictions(args.log or _home("predictions"), args.labels or _home("labels"), entity=args.entity)
    if joined.num_rows == 0:
        raise ParameterError("no logged prediction has a label yet; ingest labels first (oddsline labels ingest)")
    windows = windowed_performance(joined, target=model.target, threshold=model.threshold, window=args.window)
    if args.json:
        print_json(windows)
        return 0
    print(
        f"{'window start':<26} {'version':<14} {'rows':>6} {'pos.rate':>8} {'mean p':>7} {'logloss':>8} {'AUC':>6} {'ECE':>6}"
    )
    for w in windows:
        auc = f"{w['roc_auc']:.3f}" if w["roc_auc"] is not None else "-"
        print(
            f"{w['window_start']:<26} {w['version']:<14} {w['rows']:>6} {w['positive_rate']:>8.3f} "
            f"{w['mean_prediction']:>7.3f} {w['log_loss']:>8.4f} {auc:>6} {w['ece']:>6.3f}"
        )
    return 0
