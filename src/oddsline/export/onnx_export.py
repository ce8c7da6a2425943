"""ONNX export of a model: its numeric, boolean and one-hot feature transforms and the linear score.

Inputs, one per source column, each of shape [N, 1]: numeric and boolean columns as float (NaN =
missing; booleans as 1/0), categorical columns as string ("" = missing). Output ``probability``
[N, 1]: the positive class's probability, Platt-calibrated when the model is.

Exported exactly: the training-range policies clip and count, median/mean/constant imputation and its
indicator, clipping at quantiles, standard/robust/no scaling, one-hot with the rare and unknown buckets,
booleans, Platt calibration. Refused, with the columns named, rather than approximated: log1p, quantile
bins, datetime, target encoding, hashing, interactions, isotonic calibration, and numeric
out_of_range="error" (ONNX cannot refuse a row).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._exceptions import ParameterError
from ..features.boolean import FittedBoolean
from ..features.categorical import MISSING_LEVEL, FittedCategorical
from ..features.numeric import FittedNumeric
from ..io import atomic_path
from ..models import Model

if TYPE_CHECKING:
    from ..models import ScoringModel

__all__ = ["export_onnx", "unsupported"]

OPSET = 17


def unsupported(model: Model) -> list[str]:
    """Why each column (or the calibrator) cannot be exported; empty when everything can."""
    reasons = []
    for column, _ in model.features.blocks():
        if isinstance(column, FittedNumeric):
            if column.log1p or column.edges:
                reasons.append(f"{column.name!r}: log1p/quantile bins")
            if column.out_of_range == "error":
                reasons.append(f"{column.name!r}: out_of_range={column.out_of_range!r}")
        elif not isinstance(column, (FittedCategorical, FittedBoolean)):
            reasons.append(f"{column.name!r}: kind {column.kind!r}")
    if model.calibrator is not None and model.calibrator.method != "platt":
        reasons.append(f"calibration {model.calibrator.method!r}")
    return reasons


def export_onnx(model: ScoringModel, path: str | os.PathLike[str]) -> Path:
    if not isinstance(model, Model):
        raise ParameterError(
            f"ONNX export covers binary models (the graph's output is one probability); this is a {model.kind} "
            "model of classes "
            f"{model.classes}: score it with oddsline predict, oddsline serve or in Python"
        )
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ParameterError("ONNX export needs the onnx package: pip install 'oddsline[onnx]'") from None
    problems = unsupported(model)
    if problems:
        raise ParameterError(
            "this model cannot be exported to ONNX exactly, so it is not exported: "
            + "; ".join(problems)
            + ". Retrain with a spec that avoids them (see docs/onnx.md)"
        )
    nodes: list[Any] = []
    inits: list[Any] = []
    inputs: list[Any] = []
    blocks: list[str] = []

    def const(name: str, value: Any, dtype: Any = np.float32) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    for k, (column, _) in enumerate(model.features.blocks()):
        name = column.name
        tag = f"c{k}"
        if isinstance(column, FittedCategorical):
            inputs.append(helper.make_tensor_value_info(name, TensorProto.STRING, [None, 1]))
            levels = list(column.levels) + list(column.rare_levels)
            codes = list(range(len(column.levels))) + [len(column.levels)] * len(column.rare_levels)
            keys = ["" if level == MISSING_LEVEL else level for level in levels]
            width = len(column.design_names)
            nodes.append(
                helper.make_node(
                    "LabelEncoder",
                    [name],
                    [f"{tag}_code"],
                    domain="ai.onnx.ml",
                    keys_strings=keys,
                    values_int64s=codes,
                    default_int64=width,
                )
            )
            nodes.append(
                helper.make_node("Squeeze", [f"{tag}_code", const(f"{tag}_axis", [1], np.int64)], [f"{tag}_flat"])
            )
            nodes.append(
                helper.make_node(
                    "OneHot",
                    [f"{tag}_flat", const(f"{tag}_depth", width + 1, np.int64), const(f"{tag}_off_on", [0, 1])],
                    [f"{tag}_hot"],
                    axis=-1,
                )
            )
            # The extra last column is the unknown bucket: dropped, so an unseen level is all zeros.
            nodes.append(
                helper.make_node(
                    "Slice",
                    [
                        f"{tag}_hot",
                        const(f"{tag}_s0", [0], np.int64),
                        const(f"{tag}_s1", [width], np.int64),
                        const(f"{tag}_ax", [1], np.int64),
                    ],
                    [f"{tag}_out"],
                )
            )
            blocks.append(f"{tag}_out")
            continue
        inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, 1]))
        nodes.append(helper.make_node("IsNaN", [name], [f"{tag}_nan"]))
        if isinstance(column, FittedBoolean):
            fill = 0.0 if column.indicator else column.fill
            nodes.append(
                helper.make_node("Where", [f"{tag}_nan", const(f"{tag}_fill", [[fill]]), name], [f"{tag}_value"])
            )
            parts = [f"{tag}_value"]
        else:
            # unsupported() refused every kind but categorical, boolean and numeric above.
            assert isinstance(column, FittedNumeric)
            raw = name
            if column.out_of_range == "clip":
                # The raw value to the training range first, then the fill: a constant fill may lie
                # outside the range and is not clipped (as in Python). Where() picks the fill for NaN
                # whatever Clip made of it.
                nodes.append(
                    helper.make_node(
                        "Clip",
                        [name, const(f"{tag}_min", column.low), const(f"{tag}_max", column.high)],
                        [f"{tag}_ranged"],
                    )
                )
                raw = f"{tag}_ranged"
            nodes.append(
                helper.make_node("Where", [f"{tag}_nan", const(f"{tag}_fill", [[column.fill]]), raw], [f"{tag}_filled"])
            )
            value = f"{tag}_filled"
            if np.isfinite(column.clip_low) or np.isfinite(column.clip_high):
                low = column.clip_low if np.isfinite(column.clip_low) else -np.finfo(np.float32).max
                high = column.clip_high if np.isfinite(column.clip_high) else np.finfo(np.float32).max
                nodes.append(
                    helper.make_node(
                        "Clip", [value, const(f"{tag}_lo", low), const(f"{tag}_hi", high)], [f"{tag}_clipped"]
                    )
                )
                value = f"{tag}_clipped"
            nodes.append(
                helper.make_node("Sub", [value, const(f"{tag}_center", [[column.center]])], [f"{tag}_centred"])
            )
            nodes.append(
                helper.make_node("Div", [f"{tag}_centred", const(f"{tag}_scale", [[column.scale]])], [f"{tag}_value"])
            )
            parts = [f"{tag}_value"]
        if column.indicator:
            nodes.append(helper.make_node("Cast", [f"{tag}_nan"], [f"{tag}_indicator"], to=TensorProto.FLOAT))
            parts.append(f"{tag}_indicator")
        blocks.extend(parts)
    nodes.append(helper.make_node("Concat", blocks, ["design"], axis=1))
    nodes.append(helper.make_node("MatMul", ["design", const("coef", model.coef.reshape(-1, 1))], ["linear"]))
    nodes.append(helper.make_node("Add", ["linear", const("intercept", [[model.intercept]])], ["log_odds"]))
    score = "log_odds"
    if model.calibrator is not None:  # Platt: expit(a + b * logit(p)) = expit(a + b * log_odds)
        nodes.append(helper.make_node("Mul", [score, const("platt_b", [[model.calibrator.b]])], ["platt_scaled"]))
        nodes.append(
            helper.make_node("Add", ["platt_scaled", const("platt_a", [[model.calibrator.a]])], ["platt_log_odds"])
        )
        score = "platt_log_odds"
    nodes.append(helper.make_node("Sigmoid", [score], ["probability"]))
    graph = helper.make_graph(
        nodes,
        "oddsline_model",
        inputs,
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, [None, 1])],
        inits,
    )
    onnx_model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", 3)],
        producer_name="oddsline",
    )
    onnx_model.ir_version = 8
    onnx.checker.check_model(onnx_model)
    target = Path(path)
    with atomic_path(target) as tmp:
        onnx.save(onnx_model, str(tmp))
    return target
