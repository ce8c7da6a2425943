"""``oddsline observe prometheus|grafana``: alerting rules and dashboards generated from a model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..io import atomic_path
from ..monitor.observe import RUNBOOKS

Subparsers = Any


def add_observe(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "observe",
        help="generate Prometheus rules and Grafana dashboards for a served model",
        description="Observability as code, from the model and the metrics `oddsline serve` exports: "
        "`prometheus` writes recording and alerting rules (availability and latency SLOs with multi-window "
        "burn rates, score and input drift, calibration and log loss on labelled predictions, label lag, "
        "rejected reloads, overload); `grafana` writes three dashboards (executive, on-call, debug). "
        "Check the rules with `promtool check rules FILE`.",
        epilog="Example: oddsline observe prometheus --model churn@champion --out churn-rules.yml",
    )
    kinds = p.add_subparsers(dest="kind", metavar="KIND", parser_class=type(p))
    kinds.required = True
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", required=True, metavar="MODEL", help="file or NAME@ALIAS")
    common.add_argument(
        "--name", help="the name the model is served under (default: the registry name or the file's stem)"
    )
    common.add_argument(
        "--window",
        default="6h",
        help="window of the labelled log loss and calibration, in rules and panels (default 6h)",
    )
    rules = kinds.add_parser("prometheus", parents=[common], help="recording and alerting rules (YAML)")
    rules.add_argument("--out", required=True, metavar="FILE")
    rules.add_argument("--availability", type=float, default=0.999, help="availability objective (0.999)")
    rules.add_argument("--latency", type=float, default=0.05, help="latency objective in seconds (0.05)")
    rules.add_argument("--psi", type=float, default=0.2, help="score PSI that alerts (0.2)")
    rules.add_argument(
        "--calibration-gap", type=float, default=0.05, help="|observed - predicted| that alerts (default 0.05)"
    )
    rules.add_argument(
        "--label-lag-hours", type=float, default=48.0, help="hours without a label that alert (default 48)"
    )
    rules.add_argument(
        "--runbook-url",
        default=RUNBOOKS,
        metavar="URL",
        help=f"where the runbooks live; each alert links URL#alertname (default {RUNBOOKS})",
    )
    rules.add_argument(
        "--input-anomaly-rate",
        type=float,
        default=0.05,
        metavar="SHARE",
        help="unseen levels or out-of-range numbers per scored row that alert, each kind apart (default 0.05)",
    )
    rules.add_argument(
        "--job",
        metavar="JOB",
        help="the Prometheus job that scrapes this model's servers: request and overload series are read from "
        "it alone, and its targets' `up` is alerted on (default: every job; give it when several services "
        "export oddsline metrics)",
    )
    rules.add_argument(
        "--speedup",
        type=float,
        default=1.0,
        metavar="N",
        help="for rehearsals: divide every window, `for:` and interval by N (1-60; 30 turns an hour into 2 "
        "minutes), to watch the alerts fire against a live Prometheus scraping every second or faster",
    )
    rules.set_defaults(run=run_prometheus)
    dashboards = kinds.add_parser("grafana", parents=[common], help="three dashboards (Grafana JSON)")
    dashboards.add_argument("--out-dir", required=True, metavar="DIR")
    dashboards.set_defaults(run=run_grafana)


def _name(args: argparse.Namespace) -> str:
    if args.name:
        return str(args.name)
    if Path(args.model).is_file():
        return Path(args.model).stem
    return str(args.model).split("@", 1)[0]


def run_prometheus(args: argparse.Namespace) -> int:
    import yaml

    from ..monitor.observe import prometheus_rules
    from .references import load_model

    model = load_model(
        args.model,
        verb="oddsline observe",
        instead="its alerts watch the positive-class score and labelled log loss that oddsline serve records "
        "for binary models",
    )
    rules = prometheus_rules(
        model,
        _name(args),
        availability=args.availability,
        latency_seconds=args.latency,
        psi=args.psi,
        calibration_gap=args.calibration_gap,
        label_lag_hours=args.label_lag_hours,
        performance_window=args.window,
        runbook_url=args.runbook_url,
        job=args.job,
        input_anomaly_rate=args.input_anomaly_rate,
        speedup=args.speedup,
    )
    with atomic_path(Path(args.out)) as tmp:
        tmp.write_text(yaml.safe_dump(rules, sort_keys=False, width=200))
    count = sum(len(g["rules"]) for g in rules["groups"])
    print(f"wrote {count} rules to {args.out}; check them with: promtool check rules {args.out}")
    return 0


def run_grafana(args: argparse.Namespace) -> int:
    from ..monitor.observe import grafana_dashboards

    folder = Path(args.out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = _name(args)
    for audience, dashboard in grafana_dashboards(name, args.window).items():
        target = folder / f"{name}-{audience}.json"
        with atomic_path(target) as tmp:
            tmp.write_text(json.dumps(dashboard, indent=2))
        print(f"wrote {target}")
    return 0
