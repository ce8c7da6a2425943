"""The monitoring report: drift per column and of the score against the training reference, labelled
performance by window when there are labels — one offline HTML file, plots drawn like the model card's."""

from __future__ import annotations

import html
import itertools
from pathlib import Path
from typing import Any

from .card import _figure, write_page
from .plots import psi_plot, shares_plot

__all__ = ["write_monitor_report"]

_SHOWN = 6  # columns whose distributions are drawn: the top of the ranking


def _number(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _bins(reference: dict[str, Any]) -> list[str]:
    if reference["type"] == "numeric":
        edges = reference["edges"]
        if not edges:
            return ["all", "missing"]
        labels = [f"< {edges[0]:.4g}"] + [f"{a:.4g} – {b:.4g}" for a, b in itertools.pairwise(edges)]
        return [*labels, f">= {edges[-1]:.4g}", "missing"]
    return [str(level) for level in reference["levels"]]


def write_monitor_report(
    model: Any, report: dict[str, Any], path: str | Path, performance: list[dict[str, Any]] | None = None
) -> Path:
    reference = model.info["reference"]
    columns = report["columns"]
    ranked = [n for n in report["ranked"]]
    thresholds = report["thresholds"]
    verdict = "drift detected: " + ", ".join(report["drifted"]) if report["any_drift"] else "no drift"
    parts = [
        f"<h1>Monitoring: {html.escape(model.target.name)}</h1>",
        f"<p>{report['rows']} current rows against {reference['rows']} training rows; a column drifts when PSI "
        f">= {thresholds['psi']:g} and p < {thresholds['alpha']:g}. <strong>{html.escape(verdict)}</strong>.</p>",
    ]
    if "freshness" in report:
        f = report["freshness"]
        parts.append(f"<p>Newest input {html.escape(str(f['newest']))} ({f['age_seconds'] / 3600:.1f} h ago).</p>")
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{c['psi']:.4f}</td><td>{c['js']:.4f}</td>"
        f"<td>{_number(c['ks'], '.4f')}</td><td>{c['p_value']:.2g}</td>"
        f"<td>{c['importance']:.3f}</td><td>{'YES' if c['drift'] else ''}</td></tr>"
        for n in ranked
        for c in [columns[n]]
    )
    s = report["score"]
    rows += (
        f"<tr><td><em>score</em></td><td>{s['psi']:.4f}</td><td>{s['js']:.4f}</td><td>{s['ks']:.4f}</td>"
        f"<td>{s['p_value']:.2g}</td><td></td><td>{'YES' if s['drift'] else ''}</td></tr>"
    )
    parts.append(
        "<h2>Drift by column (ranked by PSI × importance)</h2><table><tr><th>column</th><th>PSI</th><th>JS</th>"
        f"<th>KS</th><th>p-value</th><th>importance</th><th>drift</th></tr>{rows}</table>"
    )
    figures = [
        _figure(
            psi_plot([*ranked, "(score)"], [columns[n]["psi"] for n in ranked] + [s["psi"]],
                     [columns[n]["drift"] for n in ranked] + [s["drift"]], thresholds["psi"]),
            "PSI per column and of the score; red: drifted (large and significant).",
        ),
        _figure(
            shares_plot(_bins(reference["score"]), reference["score"]["share"], s["current_share"], "score"),
            "The score's distribution: training reference vs current.",
        ),
    ]  # fmt: skip
    for name in ranked[:_SHOWN]:
        ref = reference["columns"][name]
        figures.append(
            _figure(
                shares_plot(_bins(ref), ref["share"], columns[name]["current_share"], name),
                f"{html.escape(name)}: share of rows per bin, training reference vs current.",
            )
        )
    parts.append("<h2>Distributions</h2><div class='grid'>" + "".join(figures) + "</div>")
    if performance:
        head = "<tr><th>window start</th><th>version</th><th>rows</th><th>positive rate</th><th>mean prediction</th>"
        head += "<th>log loss</th><th>ROC AUC</th><th>ECE</th></tr>"
        body = "".join(
            f"<tr><td>{html.escape(w['window_start'])}</td><td>{html.escape(w['version'])}</td><td>{w['rows']}</td>"
            f"<td>{w['positive_rate']:.3f}</td><td>{w['mean_prediction']:.3f}</td><td>{w['log_loss']:.4f}</td>"
            f"<td>{_number(w['roc_auc'], '.3f')}</td><td>{w['ece']:.3f}</td></tr>"
            for w in performance
        )
        parts.append(f"<h2>Performance on labelled predictions</h2><table>{head}{body}</table>")
    return write_page(f"oddsline monitoring: {model.target.name}", parts, path)
