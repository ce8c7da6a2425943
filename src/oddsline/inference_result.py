"""The result objects of inference: the coefficient table with model statistics, and test results."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from ._exceptions import InferenceError, ParameterError

__all__ = ["InferenceResult", "IntervalTable", "LRTestResult", "wald_columns"]


def wald_columns(params: NDArray[np.float64], cov: NDArray[np.float64], level: float) -> dict[str, Any]:
    """bse, zvalues, pvalues and conf_int of Wald inference from ``cov``; a variance that is not a positive
    number (aliased, or a numerically singular matrix) gives NaN everywhere for that parameter — never a
    made-up standard error."""
    variance = np.diag(cov)
    bse = np.where(variance > 0, np.sqrt(np.where(variance > 0, variance, 1.0)), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = params / bse
    q = float(norm.ppf(0.5 + level / 2))
    return {
        "bse": bse,
        "zvalues": z,
        "pvalues": 2 * norm.sf(np.abs(z)),
        "conf_int": np.column_stack([params - q * bse, params + q * bse]),
    }


class IntervalTable(np.ndarray):  # type: ignore[type-arg]
    """The (k, 2) confidence intervals at the result's level — an array, and callable as statsmodels'
    ``conf_int(alpha=0.05)`` so that code moves over unchanged (Wald intervals at any other level;
    profile and bootstrap intervals exist only at the level they were computed at)."""

    _params: NDArray[np.float64]
    _bse: NDArray[np.float64]
    _level: float
    _wald: bool

    def __new__(
        cls,
        bounds: Any,
        params: NDArray[np.float64] | None = None,
        bse: NDArray[np.float64] | None = None,
        level: float = 0.95,
        wald: bool = False,
    ) -> IntervalTable:
        # Defaults: code that rebuilds an array by its type (matplotlib's errorbar) gets a plain table.
        table = np.asarray(bounds, dtype=np.float64).view(cls)
        empty = np.full(table.shape[:1], np.nan)
        table._params = empty if params is None else params
        table._bse = empty if bse is None else bse
        table._level, table._wald = level, wald
        return table

    def __getitem__(self, key: Any) -> Any:
        # A row, a column or a cell is a plain array or number: only the whole table is callable.
        return np.asarray(self)[key]

    def __array_finalize__(self, obj: Any) -> None:
        for name in ("_params", "_bse", "_level", "_wald"):
            if obj is not None and hasattr(obj, name):
                setattr(self, name, getattr(obj, name))

    def __call__(self, alpha: float = 0.05) -> NDArray[np.float64]:
        if not 0 < alpha < 1:
            raise ParameterError(f"alpha must be in (0, 1), got {alpha!r}")
        if math.isclose(1 - alpha, self._level):
            return np.asarray(self).copy()
        if not self._wald:
            raise InferenceError(
                f"these intervals were computed at level {self._level:g} (profile or bootstrap); "
                f"ask for that level, or recompute with level={1 - alpha:g}"
            )
        z = float(norm.ppf(1 - alpha / 2))
        return np.column_stack([self._params - z * self._bse, self._params + z * self._bse])


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
    # After an L1/elastic-net fit: the coefficients the penalty set to 0 (None for other fits, whose
    # table has standard errors; an L1 fit's has none, see inference_from_information).
    not_selected: list[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.conf_int, IntervalTable):
            table = IntervalTable(self.conf_int, self.params, self.bse, self.level, self.ci == "wald")
            object.__setattr__(self, "conf_int", table)

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
        if self.not_selected is not None:  # an L1 fit: the non-zero coefficients (Zou, Hastie and Tibshirani, 2007)
            return len(self.params) - len(self.not_selected)
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
                    "not_selected": name in (self.not_selected or ()),
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
            "not_selected": self.not_selected,
            "coefficients": rows,
        }

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.to_dict()["coefficients"]).set_index("name")

    def summary(self) -> str:
        if self.not_selected is not None:
            return self._selection_summary()
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
                    f"{name:<{width}} {_cell(self.params[i], 11)} {'(no standard error: information singular)':>40}"
                )
                continue
            lines.append(
                f"{name:<{width}} {_cell(self.params[i], 11)} {_cell(self.bse[i], 10)} {self.zvalues[i]:>8.3f} "
                f"{self.pvalues[i]:>8.4f} {_cell(self.conf_int[i, 0], 11)} {_cell(self.conf_int[i, 1], 11)}"
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

    def _selection_summary(self) -> str:
        """An L1/elastic-net fit: its coefficients, which ones the penalty left at 0, and why there are
        no standard errors beside them."""
        width = max(12, *(len(n) for n in self.param_names))
        dropped = set(self.not_selected or ())
        lines = [
            f"Logistic regression: {self.nobs:g} observations, {self.label}",
            f"log-likelihood {self.llf:.4f}  null {self.llnull:.4f}  pseudo-R2 {self.prsquared:.4f}  "
            f"non-zero coefficients {self.df_model:g} of {len(self.param_names) - 1}",
            "",
            f"{'':<{width}} {'coef':>11} {'odds ratio':>11}",
        ]
        for i, name in enumerate(self.param_names):
            if name in dropped:
                lines.append(f"{name:<{width}} {0.0:>11.4f} {'(not selected)':>11}")
            else:
                lines.append(f"{name:<{width}} {_cell(self.params[i], 11)} {_cell(self.odds_ratios[i], 11)}")
        return "\n".join(lines)


def _cell(value: float, width: int) -> str:
    """Four decimals, or three significant digits in e-notation for numbers that would print as 0.0000
    (a coefficient per dollar of income) or too wide."""
    if value == 0 or not math.isfinite(value) or 1e-3 <= abs(value) < 1e7:
        return f"{value:>{width}.4f}"
    return f"{value:>{width}.3e}"


def _num(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
