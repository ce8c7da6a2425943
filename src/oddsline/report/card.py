"""Assemble the model card: metrics with intervals, the plots, coefficients and lineage, in one HTML file.

Self-contained and offline by construction: styles inline, plots inline SVG, no script, no link,
no font or image from anywhere. The file is written atomically.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import metrics as m
from .._exceptions import DataError
from ..io import TableLike, atomic_path, to_arrow
from . import plots

if TYPE_CHECKING:
    from ..model import Model

__all__ = ["write_report"]

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2530}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #dde3ea;padding-bottom:.3rem}
.sub{color:#5b6776} table{border-collapse:collapse;font-size:.9rem} td,th{padding:.25rem .7rem;border-bottom:1px solid #eef1f5;text-align:right}
th:first-child,td:first-child{text-align:left} .grid{display:flex;flex-wrap:wrap;gap:1.2rem} figure{margin:0}
figure svg{max-width:520px;height:auto} pre{background:#f6f8fa;padding:.8rem;font-size:.8rem;overflow:auto}
"""
_MAX_COEFFICIENTS = 30


def write_report(model: Model, data: TableLike, path: str | Path, *, n_bootstrap: int = 1000, seed: int = 0) -> Path:
    """Evaluate ``model`` on the labelled ``data`` and write the model card to ``path`` (.html)."""
    table = to_arrow(data)
    y = model.target.encode(table)
    if y.size == 0 or y.min() == y.max():
        only = model.target.positive if y.size and y[0] == 1 else model.target.negative
        raise DataError(
            f"the model card needs both classes of {model.target.name!r} among the rows; these hold only {only!r} "
            "(drop --report for the metrics that are defined on one class)"
        )
    p = model.predict_proba(table)[:, 1]
    raw = model.predict_proba(table, raw=True)[:, 1]
    results = m.evaluate(y, p, threshold=model.threshold, n_bootstrap=n_bootstrap, seed=seed)
    sections = [
        _header(model, table.num_rows, results),
        _metrics_table(results),
        _curves(y, p, raw, model, results),
        _coefficients(model),
        _lineage(model),
    ]
    return write_page(f"oddsline model card: {model.target.name}", sections, path)


def write_page(title: str, sections: list[str], path: str | Path) -> Path:
    """One self-contained HTML file (inline style and SVG, nothing fetched), written atomically."""
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        + "".join(sections)
        + "</body></html>"
    )
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return target


def _header(model: Model, rows: int, results: dict[str, Any]) -> str:
    created = model.info.get("created_at") or dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    calibrated = model.calibrator.method if model.calibrator is not None else "none"
    return (
        f"<h1>Model card: predicting {html.escape(repr(model.target.positive))} in "
        f"<code>{html.escape(model.target.name)}</code></h1>"
        f"<p class='sub'>Evaluated on {rows:,} labelled rows (positive rate {results['positive_rate']:.3f}). "
        f"{len(model.features.source_columns)} source columns, {model.features.n_design} design columns; "
        f"calibration: {calibrated}; decision threshold {model.threshold:.4g}"
        f"{' (' + html.escape(str(model.params.get('threshold_rule'))) + ')' if model.params.get('threshold_rule') else ''}. "
        f"Model created {html.escape(str(created))}.</p>"
    )


def _metrics_table(results: dict[str, Any]) -> str:
    intervals = results.get("intervals", {})
    rows = []
    names = {
        "roc_auc": "ROC AUC",
        "average_precision": "PR AUC (average precision)",
        "log_loss": "log loss",
        "brier": "Brier score",
        "ece": "expected calibration error (10 equal-width bins)",
        "ece_equal_mass": "expected calibration error (10 equal-mass bins)",
        "calibration_slope": "calibration slope",
        "calibration_intercept": "calibration intercept",
        "brier_reliability": "Brier reliability (lower is better)",
        "brier_resolution": "Brier resolution (higher is better)",
        "accuracy": "accuracy at the threshold",
        "precision": "precision at the threshold",
        "recall": "recall at the threshold",
        "f1": "F1 at the threshold",
        "fpr": "false positive rate at the threshold",
        "fnr": "false negative rate at the threshold",
        "precision_at_k": f"precision in the top {results.get('top_fraction', 0.1):.0%} of scores",
        "recall_at_k": f"recall in the top {results.get('top_fraction', 0.1):.0%} of scores",
        "lift_at_k": f"lift in the top {results.get('top_fraction', 0.1):.0%} of scores",
    }
    for key, label in names.items():
        if key not in results:
            continue
        ci = intervals.get(key)
        ci_text = f"{ci[0]:.4f} – {ci[1]:.4f}" if ci else ""
        value = results[key]
        shown = (
            f"{value:.4f}"
            if value is not None
            else "undefined: " + html.escape(results.get("undefined", {}).get(key, ""))
        )
        rows.append(f"<tr><td>{label}</td><td>{shown}</td><td>{ci_text}</td></tr>")
    level = intervals.get("level", 0.95)
    return (
        "<h2>Metrics</h2><table><tr><th>metric</th><th>value</th>"
        f"<th>{level:.0%} bootstrap CI ({intervals.get('n_resamples', 0)} resamples)</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption class='sub'>{html.escape(caption)}</figcaption></figure>"


def _curves(y: np.ndarray, p: np.ndarray, raw: np.ndarray, model: Model, results: dict[str, Any]) -> str:
    roc = m.roc_curve(y, p)
    pr = m.pr_curve(y, p)
    reliability = {"as scored": m.reliability_curve(y, p)}
    if model.calibrator is not None:
        reliability = {"before calibration": m.reliability_curve(y, raw), "after calibration": reliability["as scored"]}
    c_fp, c_fn, label = _costs(model)
    grid = np.linspace(0, 1, 201)
    cost = np.array([c_fp * np.sum((p >= t) & (y == 0)) + c_fn * np.sum((p < t) & (y == 1)) for t in grid])
    figures = [
        _figure(
            plots.roc_plot(roc["fpr"], roc["tpr"], results["roc_auc"]), "Ranking: how well positives outrank negatives."
        ),
        _figure(
            plots.pr_plot(
                np.r_[0, pr["recall"]],
                np.r_[1, pr["precision"]],
                results["average_precision"],
                results["positive_rate"],
            ),
            "Precision against recall over all thresholds.",
        ),
        _figure(plots.reliability_plot(reliability), "Do the probabilities mean what they say?"),
        _figure(plots.histogram_plot(p, y, model.threshold), "Predicted probabilities of each class."),
        _figure(
            plots.cost_curve_plot(grid, cost, model.threshold, label), "Total cost of the decisions at each threshold."
        ),
        _figure(plots.confusion_plot(results["confusion"]), "Decisions at the model's threshold."),
    ]
    return "<h2>Curves and decisions</h2><div class='grid'>" + "".join(figures) + "</div>"


def _costs(model: Model) -> tuple[float, float, str]:
    rule = str(model.params.get("threshold_rule") or "")
    found = re.fullmatch(r"cost:fp=([0-9.e+-]+),fn=([0-9.e+-]+)", rule.replace(" ", "").lower())
    if found:
        c_fp, c_fn = float(found.group(1)), float(found.group(2))
        return c_fp, c_fn, f"cost (false positive {c_fp:g}, false negative {c_fn:g})"
    return 1.0, 1.0, "misclassified rows (equal costs)"


def _coefficients(model: Model) -> str:
    try:
        result = model.inference()
    except Exception as exc:  # an old model without information matrices: say so, keep the card
        return f"<h2>Coefficients</h2><p class='sub'>Not available: {html.escape(str(exc))}</p>"
    names = list(result.param_names)
    keep = [i for i, name in enumerate(names) if name != "intercept"]
    selection = result.not_selected is not None  # an L1 fit: coefficients without standard errors
    if selection:
        keep = sorted((i for i in keep if result.params[i] != 0), key=lambda i: -abs(result.params[i]))
        ranked, caption = "|coefficient|", "Odds ratios of the columns the L1 penalty kept (no intervals after L1)."
        odds = result.odds_ratios[keep[:_MAX_COEFFICIENTS]]
        low = high = odds
    else:
        keep = sorted(keep, key=lambda i: -abs(result.zvalues[i]))
        ranked, caption = "|z|", "Odds ratios with 95% confidence intervals."
        odds = result.odds_ratios[keep[:_MAX_COEFFICIENTS]]
        bounds = result.odds_ratio_conf_int[keep[:_MAX_COEFFICIENTS]]
        low, high = bounds[:, 0], bounds[:, 1]
    keep = keep[:_MAX_COEFFICIENTS]
    svg = plots.coefficient_plot([names[i] for i in keep], odds, low, high, "" if selection else "95% CI")
    dropped = set(result.not_selected or ())
    rows = "".join(
        f"<tr><td>{html.escape(names[i])}</td><td>{result.params[i]:.4f}</td><td>{_number(result.bse[i], '.4f')}</td>"
        f"<td>{_number(result.pvalues[i], '.3g')}</td><td>{result.odds_ratios[i]:.3f}</td></tr>"
        if names[i] not in dropped
        else f"<tr><td>{html.escape(names[i])}</td><td colspan='4'>0 (not selected by the L1 penalty)</td></tr>"
        for i in range(len(names))
    )
    return (
        f"<h2>Coefficients</h2><p class='sub'>Covariance: {html.escape(result.label)}. "
        f"The {len(keep)} largest {ranked} shown in the chart; every coefficient in the table.</p>"
        f"<div class='grid'>{_figure(svg, caption)}"
        "<table><tr><th>design column</th><th>coef</th><th>SE</th><th>p</th><th>odds ratio</th></tr>"
        f"{rows}</table></div>"
    )


def _number(value: float, spec: str) -> str:
    return format(value, spec) if math.isfinite(value) else "&mdash;"


def _lineage(model: Model) -> str:
    info = {k: v for k, v in model.info.items() if k != "evaluation"}
    lineage = {"params": model.params, "info": info}
    return "<h2>Lineage</h2><pre>" + html.escape(json.dumps(lineage, indent=2, default=str)) + "</pre>"
