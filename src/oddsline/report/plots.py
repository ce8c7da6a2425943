"""The figures of the model card, drawn with matplotlib and returned as inline SVG text.

Each function takes plain arrays and returns an ``<svg>`` string; nothing here reads files or models.
matplotlib is imported lazily (it is the ``report`` extra) with the non-interactive Agg backend.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "coefficient_plot",
    "confusion_plot",
    "cost_curve_plot",
    "histogram_plot",
    "pr_plot",
    "psi_plot",
    "reliability_plot",
    "roc_plot",
    "shares_plot",
]

_SIZE = (5.0, 3.6)


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        from .._exceptions import ParameterError

        raise ParameterError(
            "the HTML report draws its plots with matplotlib: pip install 'oddsline[report]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    # No metadata block: it would carry the creator's URL and RDF namespaces for nothing.
    fig.savefig(
        buffer,
        format="svg",
        bbox_inches="tight",
        metadata={"Creator": None, "Date": None, "Format": None, "Type": None},
    )
    _pyplot().close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE (which names an external DTD)


def roc_plot(fpr: NDArray[np.float64], tpr: NDArray[np.float64], auc: float) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.plot(fpr, tpr, lw=1.6, label=f"model (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve")
    ax.legend(loc="lower right")
    return _svg(fig)


def pr_plot(recall: NDArray[np.float64], precision: NDArray[np.float64], ap: float, base: float) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.step(recall, precision, where="post", lw=1.6, label=f"model (AP {ap:.3f})")
    ax.axhline(base, ls="--", lw=0.8, color="grey", label=f"positive rate {base:.3f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve", ylim=(0, 1.02))
    ax.legend(loc="upper right")
    return _svg(fig)


def reliability_plot(curves: dict[str, dict[str, NDArray[np.float64]]]) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="grey", label="perfectly calibrated")
    for label, curve in curves.items():
        ax.plot(curve["predicted"], curve["observed"], marker="o", ms=3, lw=1.4, label=label)
    ax.set(xlabel="mean predicted probability", ylabel="observed positive rate", title="Reliability diagram")
    ax.legend(loc="upper left")
    return _svg(fig)


def histogram_plot(p: NDArray[np.float64], y: NDArray[np.float64], threshold: float) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=_SIZE)
    bins = np.linspace(0, 1, 41)
    ax.hist(p[y == 0], bins=bins, alpha=0.6, label="negatives")
    ax.hist(p[y == 1], bins=bins, alpha=0.6, label="positives")
    ax.axvline(threshold, color="black", lw=1, label=f"threshold {threshold:.3g}")
    ax.set(xlabel="predicted probability", ylabel="rows", title="Scores by class")
    ax.legend()
    return _svg(fig)


def cost_curve_plot(thresholds: NDArray[np.float64], cost: NDArray[np.float64], chosen: float, label: str) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=_SIZE)
    ax.plot(thresholds, cost, lw=1.6)
    ax.axvline(chosen, color="black", lw=1, label=f"chosen threshold {chosen:.3g}")
    ax.set(xlabel="threshold", ylabel=label, title="Decision cost by threshold")
    ax.legend()
    return _svg(fig)


def confusion_plot(confusion: dict[str, float]) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(3.6, 3.0))
    grid = np.array([[confusion["tn"], confusion["fp"]], [confusion["fn"], confusion["tp"]]])
    ax.imshow(grid, cmap="Blues")
    for (i, j), value in np.ndenumerate(grid):
        ax.text(j, i, f"{value:,.0f}", ha="center", va="center", color="white" if value > grid.max() / 2 else "black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["negative", "positive"], yticklabels=["negative", "positive"])
    ax.set(xlabel="decision", ylabel="label", title="Confusion matrix")
    return _svg(fig)


def coefficient_plot(
    names: list[str],
    odds: NDArray[np.float64],
    low: NDArray[np.float64],
    high: NDArray[np.float64],
    interval: str = "95% CI",
) -> str:
    plt = _pyplot()
    height = max(2.5, 0.22 * len(names) + 0.8)
    fig, ax = plt.subplots(figsize=(5.5, height))
    positions = np.arange(len(names))[::-1]
    ax.errorbar(odds, positions, xerr=[odds - low, high - odds], fmt="o", ms=3, lw=1, capsize=2)
    ax.axvline(1.0, color="grey", ls="--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(positions, names)
    ax.set(xlabel=f"odds ratio (log scale), {interval}" if interval else "odds ratio (log scale)", title="Odds ratios")
    return _svg(fig)


def psi_plot(names: list[str], psi: list[float], drifted: list[bool], threshold: float) -> str:
    """Horizontal bars of PSI per column (drifted ones highlighted) with the decision threshold."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, max(1.6, 0.28 * len(names) + 0.8)))
    order = list(range(len(names)))[::-1]
    ax.barh(
        [names[i] for i in order],
        [psi[i] for i in order],
        color=["#c0392b" if drifted[i] else "#7f8c8d" for i in order],
    )
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1, label=f"PSI {threshold:g}")
    ax.set_xlabel("population stability index")
    ax.legend(loc="lower right", frameon=False)
    return _svg(fig)


def shares_plot(labels: list[str], reference: list[float], current: list[float], title: str) -> str:
    """Reference and current share of rows per bin (or level), side by side."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=_SIZE)
    x = np.arange(len(labels))
    ax.bar(x - 0.2, reference, width=0.4, label="training reference", color="#2c7fb8")
    ax.bar(x + 0.2, current, width=0.4, label="current", color="#f28e2b")
    ax.set_xticks(x, labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")
    ax.set_title(title)
    ax.legend(frameon=False)
    return _svg(fig)
