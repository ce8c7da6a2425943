"""``oddsline monitor``: drift of every input column and of the score against the training reference.

The score of a multinomial model is its confidence (the raw probability of the predicted class, see
``monitor/drift.py``); its predictions are not in the prediction log, so it is monitored on --data.
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path
from typing import Any

from .._exceptions import ParameterError
from ..models import Model
from .labels_command import duration
from .output import print_json
from .references import describe_kind, load_any_model
from .streamed_train import add_engine_options

Subparsers = Any


def add_monitor(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "monitor",
        help="drift of inputs and score against the training reference; exit 1 when something drifted",
        description="Compare DATA (or the server's prediction log) with the statistics the model kept from its "
        "training rows: PSI, Jensen-Shannon, KS over bins and a chi-square p-value per column and for the score. "
        "A column drifts only when PSI >= --psi AND p < --alpha (large enough to matter, unlikely to be noise). "
        "Exit 0: nothing drifted; 1: something did (a scheduler can act on it).",
        epilog="Example: oddsline monitor --model churn@champion --data this_week.csv --json",
    )
    p.add_argument("--model", required=True, metavar="MODEL")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--data",
        metavar="FILE",
        help="a table of recent inputs; a folder or a glob of files is streamed (memory bounded; see --engine)",
    )
    source.add_argument("--log", metavar="DIR", help="a prediction-log folder (oddsline serve --prediction-log)")
    p.add_argument("--window", type=duration, metavar="DURATION", help="with --log: only the last DURATION (e.g. 1d)")
    p.add_argument("--labels", metavar="DIR", help="with --log: label store; adds performance by window and version")
    p.add_argument("--report", metavar="FILE", help="also write an HTML report (drift plots, performance)")
    p.add_argument("--psi", type=float, default=0.2, help="PSI a shift must reach to count (default 0.2)")
    p.add_argument("--alpha", type=float, default=0.01, help="p-value a shift must beat (default 0.01)")
    p.add_argument(
        "--trigger",
        action="append",
        default=[],
        metavar="RULE",
        help="a retrain trigger, e.g. 'drift_psi > 0.2 on score for 2 windows', 'ece > 0.05', "
        "'log_loss +10%% vs training' (labelled metrics need the target column in --data). With triggers the "
        "exit status is 1 only when a trigger fires this window (see --state)",
    )
    p.add_argument("--triggers", metavar="FILE", help="a YAML list of trigger rules")
    p.add_argument(
        "--state",
        metavar="FILE",
        help="where the triggers remember their streaks between runs (default $ODDSLINE_HOME/triggers/MODEL.json)",
    )
    p.add_argument("--json", action="store_true")
    add_engine_options(p)
    p.set_defaults(run=run_monitor)


def _streamed(args: argparse.Namespace) -> bool:
    path = Path(args.data)
    return args.engine in ("local", "dask") or path.is_dir() or (not path.exists() and glob.has_magic(args.data))


def _streamed_drift(args: argparse.Namespace, model: Any, thresholds: Any) -> dict[str, Any]:
    """Drift of a folder or glob of files, counted batch by batch on the local or Dask engine."""
    from ..distributed import make_engine
    from ..distributed.monitor import drift_counts_of_source
    from ..monitor.drift import drift_report_from_counts
    from ..sources import open_source

    if args.trigger or args.triggers:
        raise ParameterError(
            "--trigger: retrain triggers read the rows (labelled metrics); give --data one file, or monitor "
            "the folder without triggers"
        )
    source = open_source(args.data, batch_rows=args.batch_rows)
    with make_engine("local" if args.engine == "auto" else args.engine, args.scheduler, args.workers) as engine:
        counts = drift_counts_of_source(model, source, engine)
    return drift_report_from_counts(model, counts, thresholds)


def run_monitor(args: argparse.Namespace) -> int:
    from ..io import read_table
    from ..monitor import DriftThresholds, drift_report

    model = load_any_model(args.model)
    binary = isinstance(model, Model)
    if args.log and not binary:
        raise ParameterError(
            f"--log: {args.model} is a {describe_kind(model)}, whose predictions the server does not log; "
            "monitor it on a table of recent inputs (--data FILE)"
        )
    freshness = None
    if args.data and _streamed(args):
        report = _streamed_drift(args, model, DriftThresholds(args.psi, args.alpha))
        table = None
    elif args.data:
        table = read_table(args.data)
        report = drift_report(model, table, DriftThresholds(args.psi, args.alpha))
    else:
        table, freshness = _from_log(args, model)
        report = drift_report(model, table, DriftThresholds(args.psi, args.alpha))
    if freshness is not None:
        report["freshness"] = freshness
    performance = None
    if args.log and args.labels and isinstance(model, Model):
        from ..monitor.labels import labelled_predictions, windowed_performance

        joined = labelled_predictions(args.log, args.labels)
        performance = windowed_performance(joined, target=model.target, threshold=model.threshold)
        report["performance"] = performance
    if args.report:
        from ..report.monitor_page import write_monitor_report

        write_monitor_report(model, report, args.report, performance)
    rules = _rules(args)
    if rules:
        report["triggers"] = _run_triggers(args, model, table, report, rules)
    if args.json:
        print_json(report)
    else:
        print(f"{report['rows']} rows; drift when PSI >= {args.psi} and p < {args.alpha}")
        print(f"{'column':<24} {'PSI':>8} {'JS':>7} {'p-value':>9} {'importance':>10}  drift")
        for name in report["ranked"]:
            c = report["columns"][name]
            print(
                f"{name:<24} {c['psi']:>8.4f} {c['js']:>7.4f} {c['p_value']:>9.2g} {c['importance']:>10.3f}  {'YES' if c['drift'] else '-'}"
            )
        s = report["score"]
        print(
            f"{'(score)' if binary else '(confidence)':<24} {s['psi']:>8.4f} {s['js']:>7.4f} {s['p_value']:>9.2g} {'':>10}  {'YES' if s['drift'] else '-'}"
        )
        if performance is not None:
            _print_performance(performance)
        for t in report.get("triggers", []):
            state = "FIRED" if t["fired"] else ("active" if t.get("active") else "-")
            print(f"trigger {t['rule']!r}: value {t['value']}, threshold {t['threshold']}: {state}")
        if args.report:
            print(f"report written to {args.report}")
    if rules:
        return 1 if any(t["fired"] for t in report["triggers"]) else 0
    return 1 if report["any_drift"] else 0


def _print_performance(windows: list[dict[str, Any]]) -> None:
    """Performance of the labelled predictions by window and version (``--labels``)."""
    if not windows:
        print("performance: no logged prediction has a label yet")
        return
    print(
        f"\n{'window start':<26} {'version':>8} {'rows':>7} {'positives':>9} {'mean p':>7} {'log loss':>9} {'AUC':>7} {'ECE':>7}"
    )
    for w in windows:
        auc = "-" if w["roc_auc"] is None else f"{w['roc_auc']:.4f}"
        print(
            f"{w['window_start']:<26} {w['version']!s:>8} {w['rows']:>7} {w['positive_rate']:>9.3f} "
            f"{w['mean_prediction']:>7.3f} {w['log_loss']:>9.4f} {auc:>7} {w['ece']:>7.4f}"
        )


def _from_log(args: argparse.Namespace, model: Any) -> tuple[Any, dict[str, Any]]:
    """The logged inputs of the last --window (all without it) and how fresh the newest one is."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.compute as pc

    from ..monitor.prediction_files import read_predictions

    logged = read_predictions(args.log)
    if args.window is not None:
        since = dt.datetime.now(dt.UTC) - args.window
        logged = logged.filter(pc.greater_equal(logged.column("time"), pa.scalar(since, pa.timestamp("us", tz="UTC"))))
    if logged.num_rows == 0:
        raise ParameterError(
            f"the prediction log {args.log} holds no rows in the window; widen --window or check --log"
        )
    newest = pc.max(logged.column("time")).as_py()
    freshness = {
        "oldest": pc.min(logged.column("time")).as_py().isoformat(),
        "newest": newest.isoformat(),
        "age_seconds": (dt.datetime.now(dt.UTC) - newest).total_seconds(),
    }
    from ..monitor.logged_rows import logged_table

    return logged_table(logged.column("features").to_pylist(), model.features), freshness


def _rules(args: argparse.Namespace) -> list[Any]:
    from ..monitor.triggers import parse_rule

    texts = list(args.trigger)
    if args.triggers:
        import yaml

        with open(args.triggers) as fh:
            loaded = yaml.safe_load(fh) or []
        if not isinstance(loaded, list) or not all(isinstance(t, str) for t in loaded):
            raise ParameterError(f"{args.triggers} must be a YAML list of rule strings")
        texts += loaded
    return [parse_rule(t) for t in texts]


def _run_triggers(args: argparse.Namespace, model: Any, table: Any, report: dict[str, Any], rules: list[Any]) -> Any:
    import os
    import re

    from ..monitor.triggers import evaluate_triggers

    observations: dict[str, Any] = {
        "score_psi": report["score"]["psi"],
        "column_psi": {n: c["psi"] for n, c in report["columns"].items() if c.get("psi") is not None},
    }
    if model.target.name in table.column_names:
        labelled = model.evaluate(table, n_bootstrap=0)
        # A multinomial model has no ece or roc_auc (its rules on them report "no value").
        observations.update(
            {k: labelled[k] for k in ("ece", "log_loss", "roc_auc", "brier") if labelled.get(k) is not None}
        )
    home = os.environ.get("ODDSLINE_HOME") or ".oddsline"
    state = args.state or os.path.join(home, "triggers", re.sub(r"[^\w.-]", "_", args.model) + ".json")
    return evaluate_triggers(rules, observations, model.info.get("evaluation") or {}, state)
