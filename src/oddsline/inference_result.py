"""The result objects of inference: the coefficient table with model statistics, and test results."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["InferenceResult", "LRTestResult"]


@dataclass(frozen=True)
class LRTestResult:
    statistic: float
    df: int
    pvalue: float


@dataclass(frozen=True)
class InferenceResult:
    """Coefficients (intercept first) with standard errors, z, p, intervals and model statistics.

    Aliased parameters (exact linear combinations of others, in an unpenalised fit) are NaN in every
    array, as R reports NA, and listed in ``aliased``. Those that are a categorical column's reference
    level (treatment coding: the level every other level of the column is compared with) are also
    listed in ``reference_levels``. A standard error that is not a positive number is NaN.
    """

    params: NDArray[np.float64]
    bse: NDArray[np.float64]
    zvalues: NDArray[np.float64]
    pvalues: NDArray[np.float64]
    conf_int: NDArray[np.float64]
    cov: NDArray[np.float64]
    param_names: list[str]
    aliased: list[str]
    nobs: float
    df_model: float
    label: str
    ci: str
    level: float
    llf: float
    llnull: float
    penalised_llf: float | None = None
    condition: float = math.nan
    extra: dict[str, Any] = field(default_factory=dict)
    reference_levels: list[str] = field(default_factory=list)

    @property
    def odds_ratios(self) -> NDArray[np.float64]:
        return np.exp(self.params)

    @property
    def odds_ratio_conf_int(self) -> NDArray[np.float64]:
        return np.exp(self.conf_int)

    @property
    def deviance(self) -> float:
        return -2.0 * self.llf

    @property
    def null_deviance(self) -> float:
        return -2.0 * self.llnull

    @property
    def n_params(self) -> int:
        return int(np.sum(~np.isnan(self.params)))

    @property
    def aic(self) -> float:
        return -2.0 * self.llf + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        return -2.0 * self.llf + math.log(self.nobs) * self.n_params

    @property
    def prsquared(self) -> float:
        """McFadden's pseudo-R^2: 1 - llf / llnull."""
        return 1.0 - self.llf / self.llnull if self.llnull else math.nan

    def to_dict(self) -> dict[str, Any]:
        rows = []
        for i, name in enumerate(self.param_names):
            rows.append(
                {
                    "name": name,
                    "coef": _num(self.params[i]),
                    "std_err": _num(self.bse[i]),
                    "z": _num(self.zvalues[i]),
                    "p_value": _num(self.pvalues[i]),
                    "ci_low": _num(self.conf_int[i, 0]),
                    "ci_high": _num(self.conf_int[i, 1]),
                    "odds_ratio": _num(self.odds_ratios[i]),
                    "aliased": name in self.aliased,
                    "reference_level": name in self.reference_levels,
                }
            )
        return {
            "covariance": self.label,
            "interval": f"{self.ci}, {self.level:.0%}",
            "nobs": self.nobs,
            "log_likelihood": self.llf,
            "null_log_likelihood": self.llnull,
            "deviance": self.deviance,
            "aic": self.aic,
            "bic": self.bic,
            "pseudo_r2_mcfadden": self.prsquared,
            "condition_number": _num(self.condition),
            "vif": {k: _num(v) for k, v in self.extra.get("vif", {}).items()},
            "aliased": list(self.aliased),
            "reference_levels": list(self.reference_levels),
            "coefficients": rows,
        }

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.to_dict()["coefficients"]).set_index("name")

    def summary(self) -> str:
        width = max(12, *(len(n) for n in self.param_names))
        low, high = f"[{(1 - self.level) / 2:.3f}", f"{1 - (1 - self.level) / 2:.3f}]"
        lines = [
            f"Logistic regression: {self.nobs:g} observations, covariance {self.label}",
            f"log-likelihood {self.llf:.4f}  null {self.llnull:.4f}  pseudo-R2 {self.prsquared:.4f}  "
            f"AIC {self.aic:.2f}  BIC {self.bic:.2f}",
            "",
            f"{'':<{width}} {'coef':>11} {'std err':>10} {'z':>8} {'P>|z|':>8} {low:>11} {high:>11}",
        ]
        for i, name in enumerate(self.param_names):
            if name in self.reference_levels:
                lines.append(f"{name:<{width}} {'(reference level)':>40}")
                continue
            if name in self.aliased:
                lines.append(f"{name:<{width}} {'(aliased: not estimable)':>40}")
                continue
            if not np.isfinite(self.bse[i]):
                lines.append(
                    f"{name:<{width}} {self.params[i]:>11.4f} {'(no standard error: information singular)':>40}"
                )
                continue
            lines.append(
                f"{name:<{width}} {self.params[i]:>11.4f} {self.bse[i]:>10.4f} {self.zvalues[i]:>8.3f} "
                f"{self.pvalues[i]:>8.4f} {self.conf_int[i, 0]:>11.4f} {self.conf_int[i, 1]:>11.4f}"
            )
        if math.isfinite(self.condition):
            lines.append(f"\ncondition number of the scaled design: {self.condition:.1f} (above 30: collinearity)")
        others = [name for name in self.aliased if name not in self.reference_levels]
        if self.reference_levels:
            lines.append(
                "\nunpenalised fit: each categorical column is coded against its reference level "
                f"(treatment coding; choose it with `reference:` in the spec): {', '.join(self.reference_levels)}"
            )
        if others:
            lines.append(f"\naliased (exact linear combinations of other columns): {', '.join(others)}")
        return "\n".join(lines)


def _num(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
