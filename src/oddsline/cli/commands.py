"""The verbs of the ``oddsline`` command: train, evaluate, predict, inspect — for binary and multinomial
models alike (what differs for a multinomial one is in ``multiclass_verbs.py``)."""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from typing import Any

import pyarrow as pa

from .._exceptions import LeakageWarning, ParameterError
from ..features import FeatureSpec
from ..io import read_table
from ..models import Model, MulticlassModel
from ..training import train
from .multiclass_verbs import (
    inspect_multiclass,
    multiclass_reason,
    print_multiclass_metrics,
    print_trained,
    train_multiclass_command,
    warn_if_training_rows,
)
from .output import print_fit_facts, print_json
from .progress import Progress
from .read_options import add_read_options, read_options
from .references import describe_kind, load_any_model
from .streamed_train import (
    add_engine_options,
    describe_stream,
    is_streamed,
    score_source_command,
    train_streamed_command,
)

Subparsers = Any  # argparse's _SubParsersAction is private


def add_train(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "train",
        help="train a binary or multinomial logistic regression on a labelled table",
        description="Train a logistic regression on DATA (CSV or Parquet): binary when the target has two "
        "values or --positive names one; multinomial (softmax, a probability per class) when it has more "
        "than two and no --positive is given, or with --multiclass. Without --spec the "
        "encoding is inferred: numbers median-imputed and standardised, text one-hot (target-encoded past "
        "50 levels) with an unknown bucket for values never seen in training, booleans 0/1, timestamps "
        "as hour/day/month/age. A seeded, stratified share of the rows is held out and the model is "
        "evaluated on it.",
        epilog="Example: oddsline train examples/data/telco_churn.csv --target churn --positive Yes (binary); "
        "oddsline train examples/data/lending_club_loans.csv --target grade --ignore sub_grade "
        "--ignore interest_rate (7 classes: multinomial)",
    )
    p.add_argument(
        "data",
        metavar="DATA",
        nargs="+",
        help="labelled table: .csv, .tsv, .parquet or .arrow; several files, a folder or a glob ('logs/*.parquet') "
        "are streamed (see --engine)",
    )
    p.add_argument("--target", required=True, metavar="COL", help="the column to predict")
    p.add_argument(
        "--positive",
        metavar="VALUE",
        help="the target value that is the positive class: a binary VALUE-vs-rest model (with more than two "
        "values and no --positive the model is multinomial; with two, a yes/true/1-like value or the rarer "
        "class is chosen and reported)",
    )
    p.add_argument(
        "--multiclass",
        action="store_true",
        help="a multinomial (softmax) model, a probability per class, also for a target of two classes "
        "(the default for more than two); it takes no --positive, --threshold, --class-weight, --cv or "
        "time/group split",
    )
    p.add_argument("--out", default="model.odl", metavar="FILE", help="model file to write (default: model.odl)")
    p.add_argument(
        "--C",
        type=_positive_float,
        default=None,  # 1, unless --cv chooses it (given both, the command says so rather than drop one)
        dest="C",
        help="inverse penalty strength: smaller C, smaller coefficients; 'inf' for none (default 1)",
    )
    p.add_argument(
        "--l1-ratio",
        type=_unit_float,
        default=0.0,
        metavar="R",
        help="L1 share of the penalty: 0 ridge (L2, default), 1 lasso (L1: coefficients of columns that do not "
        "help become exactly 0), between them elastic net; needs a finite --C",
    )
    p.add_argument("--test-size", type=float, default=0.2, help="share of rows held out for evaluation (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed of the held-out split (default 0)")
    p.add_argument("--ignore", action="append", default=[], metavar="COL", help="a column not to use (repeatable)")
    p.add_argument(
        "--spec",
        metavar="FILE",
        help="feature spec (.yaml or .json) saying how each column is encoded; default: inferred "
        "(see `oddsline spec infer`)",
    )
    p.add_argument(
        "--calibrate",
        choices=("platt", "isotonic", "temperature", "none"),
        default="none",
        help="recalibrate probabilities on cross-fitted predictions: platt or isotonic (binary), temperature "
        "(multinomial) (default none)",
    )
    p.add_argument(
        "--threshold",
        default="0.5",
        metavar="RULE",
        help="decision threshold: a number, or a rule chosen on cross-fitted predictions: "
        "cost:fp=1,fn=5 | f1 | fbeta:2 | precision>=0.9 | recall>=0.8 | top=5%% (default 0.5)",
    )
    p.add_argument(
        "--split",
        choices=("random", "time", "group"),
        default="random",
        help="held-out rows: random (stratified), time (the latest by --time-column), group (whole groups of "
        "--group-column) (default random)",
    )
    p.add_argument("--time-column", metavar="COL", help="the time column of --split time")
    p.add_argument("--group-column", metavar="COL", help="the group column of --split group (not used as a feature)")
    p.add_argument("--cv", type=int, metavar="K", help="choose C by K-fold cross-validated log loss (overrides --C)")
    p.add_argument(
        "--sign-key", metavar="KEY", help="sign the model file with this private key (oddsline keys generate)"
    )
    p.add_argument("--class-weight", choices=("balanced",), help="reweight classes to equal total weight")
    p.add_argument("--folds", type=int, default=5, help="folds for cross-fitted calibration/threshold (default 5)")
    p.add_argument("--drop-missing-target", action="store_true", help="drop rows whose target is empty (counted)")
    p.add_argument(
        "--allow-leaky",
        action="store_true",
        help="do not warn about columns that alone separate the classes (target leakage); a --spec also silences it",
    )
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    add_read_options(p)
    add_engine_options(p)
    p.set_defaults(run=run_train)


def add_evaluate(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "evaluate",
        help="score a labelled table: metrics with bootstrap CIs, and optionally an HTML model card",
        description="Evaluate MODEL on DATA, which must hold the model's target column: ranking (ROC/PR AUC), "
        "proper scores (log loss, Brier), calibration (ECE, slope), decisions at the model's threshold, each "
        "with a seeded bootstrap confidence interval. A multinomial model: log loss, Brier, accuracy and "
        "one-vs-rest ROC AUC (macro and prevalence-weighted), with intervals. --report writes a "
        "self-contained HTML model card (binary models).",
        epilog="Example: oddsline evaluate model.odl examples/data/telco_churn.csv --report card.html",
    )
    p.add_argument("model", metavar="MODEL", help="an .odl model file or a registry reference (churn@champion)")
    p.add_argument("data", metavar="DATA", help="labelled table: .csv, .tsv, .parquet or .arrow")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.add_argument("--report", metavar="FILE", help="also write the HTML model card (plots inline, works offline)")
    p.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="bootstrap resamples for the CIs (default 1000; 0: none)",
    )
    add_read_options(p)
    p.set_defaults(run=run_evaluate)


def add_predict(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "predict",
        help="score a table and write probabilities and decisions",
        description="Score DATA with MODEL and write one row per input row with the probability of the "
        "positive class and the label decided at the model's threshold (a multinomial model: a column "
        "probability_CLASS per class and the most probable class). Files are read and scored in batches, "
        "so their size is not limited by memory; input problems (imputed values, unseen levels) are counted.",
        epilog="Example: oddsline predict model.odl new_customers.csv --out scores.parquet --id customer_id",
    )
    p.add_argument("model", metavar="MODEL", help="an .odl model file or a registry reference (churn@champion)")
    p.add_argument(
        "data",
        metavar="DATA",
        nargs="+",
        help="table to score: .csv, .tsv, .parquet or .arrow; several files, a folder or a glob are scored file "
        "by file in parallel into a folder (see --engine)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="output file, .csv or .parquet by its extension; for several input files a new folder that gets "
        "part-NNNNN.parquet per input file",
    )
    p.add_argument("--id", metavar="COL", help="copy this input column into the output to identify rows")
    p.add_argument(
        "--batch-rows",
        type=int,
        default=65_536,
        metavar="N",
        help="rows scored at a time (memory bound; default 65536)",
    )
    p.add_argument(
        "--on-bad-value",
        choices=("missing", "error"),
        default=None,
        help="a value a feature cannot read (text in a numeric column): score it as missing and count it per "
        "column, or stop with its column, row and value. Default: missing, but a column of which not one "
        "value can be read is refused (exit 2, no output): give 'missing' to score it imputed anyway",
    )
    p.add_argument("--json", action="store_true", help="print the row count and the input counts as JSON")
    add_read_options(p)
    add_engine_options(p, batch_rows=False)
    p.set_defaults(run=run_predict)


def add_inspect(verbs: Subparsers) -> None:
    p = verbs.add_parser(
        "inspect",
        help="show a model's coefficients, intercept and training facts",
        description="Show what MODEL learned: the coefficient of every design column (numeric columns in "
        "standardised units), the intercept, the target classes and how it was trained. A multinomial model: "
        "a coefficient per class, and for an unpenalised fit (--C inf) standard errors in statsmodels "
        "MNLogit's parametrisation (against the first class).",
        epilog="Example: oddsline inspect model.odl --json | jq .coefficients",
    )
    p.add_argument("model", metavar="MODEL", help="an .odl model file or a registry reference (churn@champion)")
    p.add_argument(
        "--units",
        choices=("standardised", "original"),
        default="standardised",
        help="numeric coefficients per standard deviation (default; comparable across columns) or per raw "
        "unit with the intercept of that parametrisation, as R's glm and statsmodels report them",
    )
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(run=run_inspect)


# -- verbs -------------------------------------------------------------------------------------


def run_train(args: argparse.Namespace) -> int:
    if args.C is not None and args.cv is not None:
        raise ParameterError(
            f"--cv {args.cv} chooses C by cross-validation and --C {args.C:g} gives one: drop one of them"
        )
    args.C = 1.0 if args.C is None else args.C
    if is_streamed(args):
        with Progress("oddsline train") as step:
            step("streaming passes over the data")
            model = train_streamed_command(args, dict(read_options(args)))
            step("writing model")
            path = model.save(args.out)
            if args.sign_key:
                from ..signing import sign_file

                sign_file(path, args.sign_key)
        return _report_trained(args, model, path)
    args.data = args.data[0]
    with Progress("oddsline train") as step:
        step("reading data")
        table = read_table(args.data, **read_options(args))
        stray = _single_row_classes(table, args.target)
        spec = FeatureSpec.load(args.spec) if args.spec else None
        step("fitting")
        reason = multiclass_reason(args, table)
        if reason is not None:
            multinomial = train_multiclass_command(args, table, spec, reason)
            step("writing model")
            written = multinomial.save(args.out)
            if args.sign_key:
                from ..signing import sign_file

                sign_file(written, args.sign_key)
            step.clear()
            print_trained(multinomial, str(written), reason, args.json)
            _warn_single_row_classes(stray, args.target)
            return 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LeakageWarning)  # printed below, after the summary
            model = train(
                table,
                target=args.target,
                positive=args.positive,
                C=args.C,
                l1_ratio=args.l1_ratio,
                test_size=args.test_size,
                seed=args.seed,
                ignore=args.ignore,
                drop_missing_target=args.drop_missing_target,
                spec=spec,
                calibrate=None if args.calibrate == "none" else args.calibrate,
                threshold=_threshold(args.threshold),
                class_weight=args.class_weight,
                folds=args.folds,
                split=args.split,
                time_column=args.time_column,
                group_column=args.group_column,
                cv=args.cv,
                allow_leaky=args.allow_leaky,
            )
        step("writing model")
        path = model.save(args.out)
        if args.sign_key:
            from ..signing import sign_file

            sign_file(path, args.sign_key)
    _warn_single_row_classes(stray, args.target)
    return _report_trained(args, model, path)


def _single_row_classes(table: Any, target: str) -> list[str]:
    """Target values held by one row, among three or more values: a totals row, a stray header or a typo
    makes a class of its own (a multinomial model of a one-row class) or a silent negative."""
    if target not in table.column_names:
        return []
    import pyarrow.compute as pc

    counts = pc.value_counts(table.column(target)).to_pylist()
    values = [c for c in counts if c["values"] is not None]
    if len(values) < 3:
        return []
    return [str(c["values"]) for c in values if c["counts"] == 1]


def _warn_single_row_classes(stray: list[str], target: str) -> None:
    if stray:
        listed = ", ".join(repr(v) for v in stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
        print(
            f"oddsline train: warning: {target!r} has {listed} in a single row{' each' if len(stray) > 1 else ''}: "
            "a totals row, a stray header or a typo? drop such rows (or check the file) unless they are real classes",
            file=sys.stderr,
        )


def _report_trained(args: argparse.Namespace, model: Model, path: Any) -> int:
    evaluation = model.info.get("evaluation", {})
    for message in model.info.get("warnings", []):
        print(f"oddsline train: warning: {message}", file=sys.stderr)
    if args.json:
        print_json(
            {
                "model": str(path),
                "kind": model.kind,
                "target": model.target.to_dict(),
                "evaluation": evaluation,
                "info": model.info,
            }
        )
        return 0
    info = model.info
    print(
        f"trained on {info['n_train']} rows ({info['n_design_columns']} design columns), "
        f"target {model.target.name!r}, positive class {model.target.positive!r} ({model.target.positive_reason})"
    )
    print_fit_facts(info)
    if "engine" in info:
        print(describe_stream(info))
    selection = model.params.get("C_selection")
    if selection:
        print(f"C = {selection['C']:.4g}, chosen by {selection['cv']}-fold cross-validated log loss")
    if evaluation:
        print(f"held-out evaluation on {info.get('evaluation_sample_rows', info['n_test'])} rows:")
        _print_metrics(evaluation)
    elif args.test_size > 0:
        print(
            f"no held-out evaluation: {info['n_rows']} rows leave none to hold out at --test-size {args.test_size:g}; "
            "evaluate on other labelled rows (oddsline evaluate)"
        )
    print(f"model written to {path}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    model = load_any_model(args.model)
    if args.report and not isinstance(model, Model):
        raise ParameterError(
            f"--report: the HTML model card covers binary models and {args.model} is a {describe_kind(model)}; "
            "drop --report (the metrics print as text or --json)"
        )
    table = read_table(args.data, **read_options(args))
    metrics = model.evaluate(table, n_bootstrap=args.bootstrap)
    warn_if_training_rows(metrics)
    if isinstance(model, MulticlassModel):
        if args.json:
            print_json(metrics)
        else:
            print(f"{args.model}: target {model.target.name!r}, multinomial over {len(model.classes)} classes")
            print_multiclass_metrics(metrics)
        return 0
    if not isinstance(model, Model):
        raise ParameterError(f"{args.model} is a {describe_kind(model)}, which oddsline evaluate does not take")
    if args.report:
        from ..report import write_report

        write_report(model, table, args.report, n_bootstrap=args.bootstrap)
    if args.json:
        print_json(metrics | ({"report": args.report} if args.report else {}))
    else:
        print(f"{args.model}: target {model.target.name!r}, positive class {model.target.positive!r}")
        _print_metrics(metrics)
        if args.report:
            print(f"model card written to {args.report}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from ..batch import BAD_VALUE, score_file

    model = load_any_model(args.model)
    if is_streamed(args):
        rows, report = score_source_command(args, model, dict(read_options(args)))
    else:
        rows, report = score_file(
            model,
            args.data[0],
            args.out,
            id_column=args.id,
            batch_rows=args.batch_rows,
            on_bad_value=args.on_bad_value,
            **read_options(args),
        )
    events = {event: counts for event, counts in report.to_dict().items() if event != "rows" and counts}
    bad_values = dict(report.counts.get(BAD_VALUE, {}))
    if bad_values:
        listed = ", ".join(f"{column} {n}" for column, n in bad_values.items())
        print(
            f"oddsline predict: {sum(bad_values.values())} value(s) that could not be read were scored as missing: "
            f"{listed} (--on-bad-value error stops at the first)",
            file=sys.stderr,
        )
    # A model input missing from every row (a column exported empty): every score rests on its
    # imputed value, which the per-column counts show but do not say.
    empty = [column for column, n in report.counts.get("imputed", {}).items() if rows and n == rows]
    if empty:
        print(
            f"oddsline predict: warning: {', '.join(empty)} missing in every one of the {rows} rows: every score "
            "uses the value the model imputes for it; check the export",
            file=sys.stderr,
        )
    if args.json:
        print_json({"rows": rows, "out": args.out, "events": events, "bad_values": bad_values, "empty_columns": empty})
        return 0
    print(f"wrote {rows} predictions to {args.out}")
    for event, counts in events.items():
        print(f"  {event}: " + ", ".join(f"{column} {n}" for column, n in counts.items()))  # type: ignore[attr-defined]
    return 0


def run_inspect(args: argparse.Namespace) -> int:
    model = load_any_model(args.model)
    if isinstance(model, MulticlassModel):
        return inspect_multiclass(args, model)
    if not isinstance(model, Model):
        raise ParameterError(f"{args.model} is a {describe_kind(model)}, which oddsline inspect does not take")
    summary = _inspect_summary(model, args.units)
    if args.json:
        print_json(summary)
        return 0
    print(f"model    {args.model}")
    print(f"target   {model.target.name!r}: positive {model.target.positive!r}, negative {model.target.negative!r}")
    print(
        f"trained  {summary['info'].get('created_at')} on {summary['info'].get('n_train')} rows, "
        f"C={model.params.get('C')}{_l1_share(model.params)}, threshold {model.threshold}"
    )
    print()
    if model.statistics:
        print(model.inference(units=args.units).summary())
        if args.units == "original":
            print(
                "\nnumeric columns in raw units: a coefficient is the change in log-odds per unit (log1p where noted)"
            )
        else:
            print(
                "\nnumeric columns are standardised: a coefficient is the change in log-odds per standard deviation "
                "(--units original: per raw unit)"
            )
        return 0
    width = max(len("intercept"), *(len(n) for n in model.design_names))
    print(f"{'term':<{width}}  coefficient")
    print(f"{'intercept':<{width}}  {model.intercept: .6f}")
    for name, value in summary["coefficients"].items():
        print(f"{name:<{width}}  {value: .6f}")
    return 0


# -- helpers -----------------------------------------------------------------------------------


def _inspect_summary(model: Model, units: str = "standardised") -> dict[str, Any]:
    inference = model.inference(units=units).to_dict() if model.statistics else None
    intercept, coefficients = model.intercept, model.coefficients()
    if units == "original" and inference is not None:  # the top-level numbers in the units asked for too
        rows = {row["name"]: row["coef"] for row in inference["coefficients"]}
        intercept = rows.pop("intercept")
        coefficients = {name: 0.0 if value is None else value for name, value in rows.items()}
    elif inference is None:
        units = "standardised"  # no information kept, no conversion: say what the numbers are
    return {
        "kind": model.kind,
        "target": model.target.to_dict(),
        "classes": model.classes,
        "units": units,
        "intercept": intercept,
        "coefficients": coefficients,
        "threshold": model.threshold,
        "params": model.params,
        "features": model.features.to_dict(),
        "info": model.info,
        "inference": inference,
    }


def _print_metrics(metrics: dict[str, Any]) -> None:
    intervals = metrics.get("intervals", {})
    level = intervals.get("level", 0.95)
    at_threshold = ("accuracy", "precision", "recall", "fpr", "fnr")
    at_top = ("precision_at_k", "lift_at_k")
    for key in ("log_loss", "roc_auc", "average_precision", "brier", "ece", *at_threshold, *at_top):
        if key not in metrics:
            continue
        ci = f"  [{intervals[key][0]:.4f}, {intervals[key][1]:.4f}] {level:.0%} CI" if key in intervals else ""
        suffix = f"  (threshold {metrics['threshold']:g})" if key in at_threshold else ""
        if key in at_top:
            suffix = f"  (top {metrics['top_fraction']:.0%} of scores)"
        if metrics[key] is None:  # undefined on this sample (one class, constant scores): say why
            print(f"  {key:<17} undefined: {metrics.get('undefined', {}).get(key, 'not defined on these rows')}")
            continue
        print(f"  {key:<17} {metrics[key]:.4f}{ci}{suffix}")


def _threshold(text: str) -> str | float:
    try:
        return float(text)
    except ValueError:
        return text


def _label_array(labels: list[Any]) -> pa.Array:
    if len({type(v) for v in labels}) > 1:
        return pa.array([str(v) for v in labels])
    return pa.array(labels)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (use 'inf' for no penalty)") from None
    if not value > 0 or math.isnan(value):
        raise argparse.ArgumentTypeError(f"C must be positive, got {text}")
    return value


def _l1_share(params: dict[str, Any]) -> str:
    ratio = float(params.get("l1_ratio") or 0.0)
    return f", l1_ratio={ratio:g} ({params.get('penalty')})" if ratio else ""


def _unit_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number: give one in [0, 1] (0 ridge, 1 lasso)") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"the L1 share must be in [0, 1] (0 ridge, 1 lasso), got {text}")
    return value


__all__ = ["ParameterError", "add_evaluate", "add_inspect", "add_predict", "add_train"]
