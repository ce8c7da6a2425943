"""What ``train``, ``evaluate`` and ``inspect`` do with a multinomial target or model.

``train`` fits a multinomial (softmax) model when the target has more than two classes and no
``--positive`` is given, or when ``--multiclass`` asks for one (also for two classes: a softmax model
of two classes scores like a binary one, without a threshold). ``--positive`` keeps the binary
one-vs-rest model. The options that only a binary model has (a threshold, Platt/isotonic calibration,
class weights, time/group splits, ``--cv``) are refused by name rather than ignored.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .._exceptions import ParameterError
from ..features import FeatureSpec
from ..models import MulticlassModel
from .output import print_fit_facts, print_json

__all__ = ["inspect_multiclass", "multiclass_reason", "print_multiclass_metrics", "train_multiclass_command"]

# Each binary-only option of `train`, with its default: given another value, a multinomial fit refuses it.
_BINARY_ONLY = (
    ("threshold", "--threshold", "0.5"),
    ("class_weight", "--class-weight", None),
    ("split", "--split", "random"),
    ("time_column", "--time-column", None),
    ("group_column", "--group-column", None),
    ("cv", "--cv", None),
    ("l1_ratio", "--l1-ratio", 0.0),
)
_METRICS = ("log_loss", "brier", "accuracy", "roc_auc_ovr", "roc_auc_ovr_weighted")


def multiclass_reason(args: argparse.Namespace, table: pa.Table) -> str | None:
    """Why ``train`` fits a multinomial model here, or None for a binary one."""
    if args.multiclass:
        if args.positive is not None:
            raise ParameterError(
                "--positive and --multiclass ask for different models: --positive VALUE trains a binary "
                "VALUE-vs-rest model, --multiclass one probability per class; give one of them"
            )
        return "--multiclass"
    if args.positive is not None or args.target not in table.column_names:
        return None  # binary; train() names a missing target column
    n_labels = len(pc.unique(table.column(args.target).drop_null()))
    if n_labels > 2:
        return f"{args.target!r} has {n_labels} classes and no --positive was given"
    return None


def train_multiclass_command(
    args: argparse.Namespace, table: pa.Table, spec: FeatureSpec | None, reason: str
) -> MulticlassModel:
    """Fit the multinomial model ``train`` was asked for (the options a binary model alone has refused)."""
    from ..multiclass_training import train_multiclass

    given = [flag for name, flag, default in _BINARY_ONLY if getattr(args, name) != default]
    if args.calibrate in ("platt", "isotonic"):
        given.append(f"--calibrate {args.calibrate}")
    if given:
        raise ParameterError(
            f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} to binary models; this is a multinomial fit ({reason}), which predicts "
            "the most probable class and is calibrated by --calibrate temperature. Drop them, or give "
            "--positive VALUE for a binary VALUE-vs-rest model"
        )
    return train_multiclass(
        table,
        args.target,
        C=args.C,
        test_size=args.test_size,
        seed=args.seed,
        spec=spec,
        ignore=args.ignore,
        drop_missing_target=args.drop_missing_target,
        calibrate="temperature" if args.calibrate == "temperature" else None,
        folds=args.folds,
    )


def print_trained(model: MulticlassModel, path: str, reason: str, as_json: bool) -> None:
    info = model.info
    evaluation = info.get("evaluation", {})
    if as_json:
        print_json(
            {
                "model": path,
                "kind": model.kind,
                "target": model.target.to_dict(),
                "evaluation": evaluation,
                "info": info,
            }
        )
        return
    print(
        f"trained a multinomial model on {info['n_train']} rows ({info['n_design_columns']} design columns), "
        f"target {model.target.name!r}: {len(model.classes)} classes {_listed(model.classes)} ({reason})"
    )
    print_fit_facts(info)
    if model.temperature is not None:
        print(f"temperature {model.temperature:.4f} (cross-fitted on {model.params.get('folds')} folds)")
    if evaluation:
        print(f"held-out evaluation on {info['n_test']} rows:")
        print_multiclass_metrics(evaluation)
    print(f"model written to {path}")


def print_multiclass_metrics(metrics: dict[str, Any]) -> None:
    intervals = metrics.get("intervals", {})
    level = intervals.get("level", 0.95)
    for key in _METRICS:
        value = metrics.get(key)
        if value is None:
            if key in metrics:
                print(f"  {key:<21} undefined: {metrics.get('undefined', {}).get(key, '')}")
            continue
        ci = f"  [{intervals[key][0]:.4f}, {intervals[key][1]:.4f}] {level:.0%} CI" if key in intervals else ""
        print(f"  {key:<21} {value:.4f}{ci}")


def inspect_multiclass(args: argparse.Namespace, model: MulticlassModel) -> int:
    if args.units != "standardised":
        raise ParameterError(
            "--units original covers binary models; a multinomial model's numeric coefficients are shown per "
            "standard deviation (drop --units)"
        )
    inference = model.inference() if "fisher_information" in model.statistics else None
    if args.json:
        print_json(
            {
                "kind": model.kind,
                "target": model.target.to_dict(),
                "classes": model.classes,
                "intercepts": dict(zip(map(str, model.classes), map(float, model.intercept), strict=True)),
                "coefficients": model.coefficients(),
                "temperature": model.temperature,
                "params": model.params,
                "features": model.features.to_dict(),
                "info": model.info,
                "inference": None if inference is None else inference.to_dict(),
            }
        )
        return 0
    info = model.info
    print(f"model    {args.model}")
    print(f"target   {model.target.name!r}: multinomial over {len(model.classes)} classes {_listed(model.classes)}")
    temperature = "none" if model.temperature is None else f"{model.temperature:.4f}"
    print(
        f"trained  {info.get('created_at')} on {info.get('n_train')} rows, C={model.params.get('C')}, "
        f"temperature {temperature}"
    )
    print()
    if inference is not None:
        print(inference.summary())
        print(
            f"\nreference class {model.classes[0]!r} (as statsmodels' MNLogit): a coefficient is the change in the "
            "log-odds of its class against the reference per standard deviation of a numeric column"
        )
        return 0
    names = ["intercept", *model.design_names]
    rows = [model.intercept, *model.coef.T]
    width = max(len(n) for n in names)
    labels = [str(c) for c in model.classes]
    cell = max(11, *(len(label) for label in labels))
    print(f"{'term':<{width}}  " + " ".join(f"{label:>{cell}}" for label in labels))
    for name, values in zip(names, rows, strict=True):
        print(f"{name:<{width}}  " + " ".join(f"{float(v):>{cell}.6f}" for v in values))
    print(
        "\nsoftmax coefficients (symmetric: a class's probability is softmax over the classes of intercept + "
        "x . coef); standard errors need an unpenalised fit (--C inf)"
    )
    return 0


def warn_if_training_rows(metrics: dict[str, Any]) -> None:
    overlap = metrics.get("training_overlap")
    if overlap is not None and overlap >= 0.05:
        print(
            f"oddsline evaluate: warning: about {overlap:.0%} of these rows are rows the model was trained on; "
            "metrics on training rows are optimistic: evaluate on rows it has not seen (train holds some out)",
            file=sys.stderr,
        )


def _listed(classes: list[Any], limit: int = 10) -> str:
    shown = ", ".join(map(str, classes[:limit]))
    return f"({shown}{', ...' if len(classes) > limit else ''})"
