"""The binary kind: :class:`Model` — fitted features, one coefficient vector, target classes, calibrator,
threshold and lineage; scored by the table path, the dict-row path and the compiled JSON scorer."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
from numpy.typing import NDArray

from .._exceptions import ParameterError
from ..artifact_file import write_artifact
from ..calibration import Calibrator
from ..core.link import expit
from ..estimator import LogisticRegression
from ..features import FittedFeatures, FittedNumeric, TransformReport
from ..features.partial import Rows
from ..inference_result import InferenceResult
from ..io import TableLike, to_arrow
from ..metrics import evaluate
from ..scoring import RowScorer, block_log_odds, probabilities, probability
from ..scoring_json import JsonRowScorer
from ..target import BinaryTarget

__all__ = ["Explanation", "Model", "OneRow"]

_SCRATCH = TransformReport()  # predict_one without a report: the counts are not wanted

_DESIGN_CELLS = 1 << 22  # of the design built at once when scoring a table (float64: 32 MB)


class OneRow(NamedTuple):
    """The score of one row: probability of the positive class, decision at the threshold, its label."""

    probability: float
    decision: bool
    label: Any
    raw_probability: float  # before calibration (equal to probability without a calibrator)


@dataclass(frozen=True)
class Explanation:
    """Additive log-odds contributions: ``base + values[i].sum()`` is row i's log-odds."""

    base: float
    names: list[str]
    values: NDArray[np.float64]  # (n_rows, len(names))

    def to_dict(self, row: int = 0) -> dict[str, float]:
        return dict(zip(self.names, map(float, self.values[row]), strict=True))


@dataclass(frozen=True)
class Model:
    """A trained binary logistic-regression model that scores raw tables.

    ``coef`` has one entry per design column (``features.design_names``); the decision for a row is
    ``probability >= threshold``.
    """

    features: FittedFeatures
    target: BinaryTarget
    coef: NDArray[np.float64]
    intercept: float
    threshold: float = 0.5
    params: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    # Kept from training for inference without the data: "fisher_information", "penalised_hessian"
    # (over [beta..., intercept], unnormalised) and "likelihood" = [llf, llnull, nobs].
    statistics: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    calibrator: Calibrator | None = None  # applied to every probability; raw=True skips it
    kind: ClassVar[str] = "binary_logistic_regression"  # the manifest's name of this kind
    _row_scorer: RowScorer | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def classes(self) -> list[Any]:
        """Labels in the order of ``predict_proba``'s columns: [negative, positive]."""
        return self.target.classes

    @property
    def design_names(self) -> list[str]:
        return self.features.design_names

    def decision_function(self, data: TableLike, report: TransformReport | None = None) -> NDArray[np.float64]:
        """Log-odds of the positive class for each row; input events (imputed, unseen, ...) go to ``report``.
        The design is built a slice of rows at a time (about 32 MB of it): a wide model's whole design
        would be rows x thousands of doubles."""
        table = to_arrow(data)
        step = max(1, _DESIGN_CELLS // max(self.features.n_design, 1))
        if table.num_rows <= step:
            return block_log_odds(self.features, self.features.transform(table, report), self.coef, self.intercept)
        report = TransformReport() if report is None else report
        return np.concatenate(
            [
                block_log_odds(
                    self.features, self.features.transform(table.slice(at, step), report), self.coef, self.intercept
                )
                for at in range(0, table.num_rows, step)
            ]
        )

    def predict_proba(
        self, data: TableLike, report: TransformReport | None = None, *, raw: bool = False
    ) -> NDArray[np.float64]:
        """(n_rows, 2): probability of the negative and of the positive class — calibrated when the
        model has a calibrator, unless ``raw=True``."""
        p = expit(self.decision_function(data, report))
        if self.calibrator is not None and not raw:
            p = self.calibrator.apply(p)
        return np.column_stack([1.0 - p, p])

    def predict(self, data: TableLike) -> NDArray[Any]:
        """The label decided at the model's threshold for each row."""
        p = self.predict_proba(data)[:, 1]
        labels = np.array(self.classes, dtype=object)
        return labels[(p >= self.threshold).astype(int)]  # type: ignore[no-any-return]

    def predict_one(self, row: Mapping[str, Any], report: TransformReport | None = None) -> OneRow:
        """Score one dict row (no pandas, no arrays): the same probability as the table path, bit for bit."""
        raw = probability(self._scorer().log_odds(row, _SCRATCH if report is None else report))
        p = raw if self.calibrator is None else self.calibrator.apply_one(raw)
        decision = p >= self.threshold
        return OneRow(p, decision, self.target.classes[1] if decision else self.target.classes[0], raw)

    def predict_rows(
        self, rows: list[dict[str, Any]] | Rows, report: TransformReport | None = None, *, raw: bool = False
    ) -> NDArray[np.float64]:
        """Positive-class probability of each dict row (calibrated unless ``raw``), without building a
        table: what a service does with the rows of a JSON request. Each row's raw probability is bit
        for bit ``predict_one``'s; ~10x faster than ``predict_proba`` on a table for 1,000 rows.
        ``rows`` may also be :class:`~oddsline.features.partial.Rows` holding exactly the model's
        columns (a request decoded straight into columns)."""
        log_odds = self._scorer().log_odds_many(rows, _SCRATCH if report is None else report)
        p = probabilities(log_odds)
        if self.calibrator is not None and not raw:
            p = self.calibrator.apply(p)
        return p

    def json_row_scorer(self) -> JsonRowScorer | None:
        """The compiled scorer of JSON rows (``scoring_json.py``), where the extension is built and
        takes this model's columns."""
        return self._scorer().json

    def _scorer(self) -> RowScorer:
        """The dict-row scorer, compiled on first use."""
        if self._row_scorer is None:
            object.__setattr__(self, "_row_scorer", RowScorer.compile(self.features, self.coef, self.intercept))
        return self._row_scorer  # type: ignore[return-value]

    def explain(self, data: TableLike, *, by: str = "column") -> Explanation:
        """Each feature's exact additive contribution to each row's log-odds, against the training mean.

        For a linear model the SHAP value of design column j is coef_j * (x_j - mean_j) (interventional,
        features independent): exact, no sampling. ``base`` (the log-odds at the training mean) plus a
        row's contributions is its log-odds. ``by="column"`` sums them per source column (a one-hot
        block is one column), ``by="design"`` keeps one per design column.
        """
        if "design_mean" not in self.statistics:
            raise ParameterError("this model kept no training means of its design columns; retrain it to explain")
        mean = self.statistics["design_mean"]
        X = self.features.transform(to_arrow(data))
        contributions = (X - mean) * self.coef
        base = float(mean @ self.coef + self.intercept)
        if by == "design":
            return Explanation(base, self.design_names, contributions)
        if by != "column":
            raise ParameterError(f"by must be 'column' or 'design', got {by!r}")
        names = [column.name for column, _ in self.features.blocks()]
        grouped = np.column_stack([contributions[:, block].sum(axis=1) for _, block in self.features.blocks()])
        return Explanation(base, names, grouped)

    def evaluate(self, data: TableLike, *, n_bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
        """Every metric on a labelled table (ranking, proper scores, calibration, decisions at the
        model's threshold) with bootstrap confidence intervals; see ``oddsline.metrics.evaluate``."""
        table = to_arrow(data)
        y = self.target.encode(table)
        p = self.predict_proba(table)[:, 1]
        metrics = evaluate(y, p, threshold=self.threshold, n_bootstrap=n_bootstrap, seed=seed)
        sketch = self.info.get("training_rows")
        if sketch:
            from ..overlap import overlap_share

            # The share of these rows the model trained on (estimated from a sketch; see overlap.py):
            # metrics on training rows are optimistic, and the command warns.
            metrics["training_overlap"] = overlap_share(sketch, table)
        return metrics

    def coefficients(self, *, original_units: bool = False) -> dict[str, float]:
        """Coefficient of each design column, by name (standardised units for numeric columns).

        ``original_units=True`` reports a standardised numeric column's coefficient per unit of the
        raw value (coef / scale) — where the column is an affine function of the raw value (no log,
        clipping or bins); other columns are unchanged.
        """
        values = dict(zip(self.design_names, map(float, self.coef), strict=True))
        if original_units:
            for column, block in self.features.blocks():
                if isinstance(column, FittedNumeric) and column.linear:
                    values[column.name] = float(self.coef[block.start]) / column.scale
        return values

    def inference(
        self,
        data: TableLike | None = None,
        *,
        cov_type: str = "nonrobust",
        groups: Any = None,
        ci: str = "wald",
        level: float = 0.95,
        units: str = "standardised",
    ) -> InferenceResult:
        """Coefficient table with standard errors, z, p-values and intervals, in design-column names.

        Without ``data`` it reuses the information matrices kept at training (model-based covariance,
        Wald intervals); robust or cluster covariances and profile intervals need the training rows.
        ``units="original"``: numeric coefficients per raw unit and the intercept of that
        parametrisation, as R's glm reports them (see ``original_units.py``).
        """
        if units not in ("standardised", "original"):
            raise ParameterError(f"units must be 'standardised' or 'original', got {units!r}")
        from ..inference import inference, inference_from_information

        if data is None:
            if cov_type != "nonrobust" or ci != "wald":
                raise ParameterError(
                    f"cov_type={cov_type!r} and ci={ci!r} need the training rows: model.inference(data=training_table, ...)"
                )
            if not self.statistics:
                raise ParameterError(
                    "this model kept no information matrices; pass the training rows: model.inference(data=...)"
                )
            theta = np.r_[self.coef, self.intercept]
            result = inference_from_information(
                theta,
                self.statistics,
                self.design_names,
                float(self.params.get("C", 1.0)),
                level,
                float(self.params.get("l1_ratio", 0.0)),
            )
        else:
            table = to_arrow(data)
            X = self.features.transform(table)
            y = self.target.encode(table)
            result = inference(
                self.as_estimator(),
                X,
                y,
                cov_type=cov_type,
                groups=groups,
                ci=ci,
                level=level,
                feature_names=self.design_names,
                prefer_aliased=np.asarray(self.statistics.get("aliased", ()), dtype=np.intp),
            )
        references = [f"{column}={level}" for column, level in self.info.get("reference_levels", {}).items()]
        result = replace(result, reference_levels=[r for r in references if r in result.aliased])
        if units == "original":
            from ..original_units import in_original_units

            result = in_original_units(result, self.features)
        return result

    def as_estimator(self) -> LogisticRegression:
        """The fitted numeric estimator behind this model (on design matrices, classes 0 and 1)."""
        C = self.params.get("C", 1.0)
        estimator = LogisticRegression(C=float(C), l1_ratio=float(self.params.get("l1_ratio", 0.0)))
        estimator.classes_ = np.array([0.0, 1.0])
        estimator.coef_ = self.coef.reshape(1, -1).copy()
        estimator.intercept_ = np.array([self.intercept])
        estimator.n_features_in_ = self.coef.shape[0]
        estimator._multinomial = False
        return estimator

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model as one ``.odl`` file (atomically); returns the path."""
        return write_artifact(*self.to_artifact(), path)

    def to_artifact(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        """The manifest entry and the arrays of the model file (``from_artifact`` reads them back)."""
        body = {
            "kind": self.kind,
            "target": self.target.to_dict(),
            "features": self.features.to_dict(),
            "intercept": self.intercept,
            "threshold": self.threshold,
            "calibrator": None if self.calibrator is None else self.calibrator.to_dict(),
            "params": self.params,
            "info": self.info,
        }
        return body, {"coef": self.coef, **self.statistics}

    @classmethod
    def from_artifact(cls, body: dict[str, Any], arrays: dict[str, NDArray[Any]], info: dict[str, Any]) -> Model:
        statistics = dict(arrays)
        coef = statistics.pop("coef")
        return cls(
            features=FittedFeatures.from_dict(body["features"]),
            target=BinaryTarget.from_dict(body["target"]),
            coef=coef,
            statistics=statistics,
            intercept=float(body["intercept"]),
            threshold=float(body["threshold"]),
            calibrator=None if body.get("calibrator") is None else Calibrator.from_dict(body["calibrator"]),
            params=body.get("params", {}),
            info=info,
        )
