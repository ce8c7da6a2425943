"""The multinomial kind: :class:`MulticlassModel` — fitted features, one coefficient row per class
(softmax, symmetric parametrisation) and an optional temperature.

It scores raw tables and dict rows (softmax(logits / T); the raw probabilities stay available),
predicts the most probable class, evaluates itself with confidence intervals, explains each class's
logit additively, and reports statsmodels-MNLogit inference for unpenalised fits.

Each class's logit is summed block by block in design order (``scoring.block_log_odds``), on the table
path and on the dict-row path alike, so a row scored alone gets the same probabilities, bit for bit,
as in a batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from .._exceptions import ParameterError
from ..artifact_file import write_artifact
from ..calibration import TemperatureScaler
from ..features import FittedFeatures, TransformReport
from ..features.partial import Rows
from ..inference_result import InferenceResult
from ..io import TableLike, to_arrow
from ..metrics import evaluate_multiclass
from ..scoring import RowScorer, block_log_odds
from ..target import ClassTarget
from .binary import Explanation

__all__ = ["ClassExplanation", "MulticlassModel"]

_SCRATCH = TransformReport()  # the other classes' pass over the same rows: counted once, by the first


@dataclass(frozen=True)
class ClassExplanation:
    """Additive contributions to each class's logit: ``base[k] + values[i, k].sum()`` is row i's logit
    of class k (softmax of the logits, over the temperature, gives the probabilities)."""

    classes: list[Any]
    base: NDArray[np.float64]  # (n_classes,)
    names: list[str]
    values: NDArray[np.float64]  # (n_rows, n_classes, len(names))

    def for_class(self, label: Any) -> Explanation:
        """The contributions to one class's logit, as a binary model's :class:`Explanation`."""
        keys = [str(c) for c in self.classes]
        if str(label) not in keys:
            raise ParameterError(f"class {label!r} is not one of the model's classes {self.classes}")
        k = keys.index(str(label))
        return Explanation(float(self.base[k]), self.names, self.values[:, k, :])


@dataclass(frozen=True)
class MulticlassModel:
    """``coef`` is (n_classes, n_design), ``intercept`` (n_classes,); classes in ``target.classes`` order.

    ``statistics`` (optional arrays kept from training): "design_mean" (the reference point of
    ``explain``); for an unpenalised fit also "fisher_information" (over theta = [coef.ravel(),
    intercept], unnormalised), "likelihood" = [llf, llnull, nobs] and "aliased" (design columns
    without an estimate), which give ``inference()`` without the training rows.
    """

    features: FittedFeatures
    target: ClassTarget
    coef: NDArray[np.float64]
    intercept: NDArray[np.float64]
    temperature: float | None = None  # None: no calibration
    params: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    statistics: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    kind: ClassVar[str] = "multinomial_logistic_regression"  # the manifest's name of this kind
    _row_scorers: tuple[RowScorer, ...] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def classes(self) -> list[Any]:
        return self.target.classes

    @property
    def design_names(self) -> list[str]:
        return self.features.design_names

    def decision_function(self, data: TableLike, report: TransformReport | None = None) -> NDArray[np.float64]:
        """(n_rows, n_classes) logits (before any temperature)."""
        X = self.features.transform(to_arrow(data), report)
        return np.column_stack(
            [block_log_odds(self.features, X, self.coef[k], float(self.intercept[k])) for k in range(len(self.classes))]
        )

    def predict_proba(
        self, data: TableLike, report: TransformReport | None = None, *, raw: bool = False
    ) -> NDArray[np.float64]:
        """(n_rows, n_classes) class probabilities, temperature-scaled unless ``raw=True``."""
        return self.softmax(self.decision_function(data, report), raw=raw)

    def predict(self, data: TableLike) -> NDArray[Any]:
        """The most probable class of each row (a temperature never changes it)."""
        return self.labels_of(self.predict_proba(data))

    def labels_of(self, probabilities: NDArray[np.float64]) -> NDArray[Any]:
        """The class label of the largest probability in each row (the first one on a tie)."""
        labels = np.array(self.classes, dtype=object)
        return labels[probabilities.argmax(axis=1)]  # type: ignore[no-any-return]

    def predict_rows(
        self, rows: list[dict[str, Any]] | Rows, report: TransformReport | None = None, *, raw: bool = False
    ) -> NDArray[np.float64]:
        """(n_rows, n_classes) probabilities of dict rows (or decoded :class:`Rows`), without a table:
        bit for bit those of ``predict_proba`` on the same rows."""
        return self.softmax(self.logits_of_rows(rows, report), raw=raw)

    def logits_of_rows(
        self, rows: list[dict[str, Any]] | Rows, report: TransformReport | None = None
    ) -> NDArray[np.float64]:
        """(n_rows, n_classes) logits of dict rows, bit for bit ``decision_function``'s; input events go
        to ``report`` once (the other classes' passes over the same rows are not counted again)."""
        scorers = self._scorers()
        first = scorers[0].log_odds_many(rows, _SCRATCH if report is None else report)
        return np.column_stack([first, *(s.log_odds_many(rows, TransformReport()) for s in scorers[1:])])

    def softmax(self, logits: NDArray[np.float64], *, raw: bool = False) -> NDArray[np.float64]:
        """Class probabilities of ``logits``: softmax(logits / T), or T = 1 when ``raw`` or uncalibrated."""
        temperature = 1.0 if raw or self.temperature is None else self.temperature
        return TemperatureScaler(temperature).apply(logits)

    def _scorers(self) -> tuple[RowScorer, ...]:
        """One dict-row scorer per class, compiled on first use."""
        if self._row_scorers is None:
            scorers = tuple(
                RowScorer.compile(self.features, self.coef[k], float(self.intercept[k]))
                for k in range(len(self.classes))
            )
            object.__setattr__(self, "_row_scorers", scorers)
        return self._row_scorers  # type: ignore[return-value]

    def explain(self, data: TableLike, *, by: str = "column") -> ClassExplanation:
        """Each feature's exact additive contribution to each class's logit, against the training mean:
        coef[k, j] * (x_j - mean_j), as :meth:`Model.explain` does for the log-odds. ``by="column"``
        sums a source column's design columns, ``by="design"`` keeps them apart."""
        if "design_mean" not in self.statistics:
            raise ParameterError("this model kept no training means of its design columns; retrain it to explain")
        if by not in ("column", "design"):
            raise ParameterError(f"by must be 'column' or 'design', got {by!r}")
        mean = self.statistics["design_mean"]
        X = self.features.transform(to_arrow(data))
        contributions = (X - mean)[:, None, :] * self.coef[None, :, :]
        base = self.coef @ mean + self.intercept
        if by == "design":
            return ClassExplanation(self.classes, base, self.design_names, contributions)
        blocks = list(self.features.blocks())
        grouped = np.stack([contributions[:, :, block].sum(axis=2) for _, block in blocks], axis=2)
        return ClassExplanation(self.classes, base, [column.name for column, _ in blocks], grouped)

    def evaluate(self, data: TableLike, *, n_bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
        """Log loss, Brier, accuracy and one-vs-rest AUC on a labelled table, with bootstrap intervals;
        ``training_overlap`` as :meth:`Model.evaluate` when the model kept its training-row sketch."""
        table = to_arrow(data)
        metrics = evaluate_multiclass(
            self.target.encode(table), self.predict_proba(table), n_bootstrap=n_bootstrap, seed=seed
        )
        metrics["classes"] = list(self.classes)
        sketch = self.info.get("training_rows")
        if sketch:
            from ..overlap import overlap_share

            metrics["training_overlap"] = overlap_share(sketch, table)
        return metrics

    def coefficients(self) -> dict[str, dict[str, float]]:
        """Each class's coefficient of each design column, by name (the symmetric parametrisation: the
        coefficients of a column sum to zero over the classes in an unpenalised fit)."""
        return {
            str(label): dict(zip(self.design_names, map(float, self.coef[k]), strict=True))
            for k, label in enumerate(self.classes)
        }

    def inference(self, data: TableLike | None = None, *, level: float = 0.95) -> InferenceResult:
        """Coefficient table with standard errors, z, p-values and Wald intervals in statsmodels'
        MNLogit parametrisation: the first class is the reference, every other class gets
        ``CLASS:intercept`` and ``CLASS:COLUMN`` relative to it. Unpenalised fits only (``C=inf``):
        a penalised fit has no such table (see ``coefficients``).

        Without ``data`` the information matrix kept at training is used; with ``data`` (the training
        rows) it is computed on them.
        """
        from ..inference import multinomial_from_information, multinomial_information

        if str(self.params.get("C", 1.0)) != "inf":
            raise ParameterError(
                f"inference is available for unpenalised multinomial fits (C=inf); this model has "
                f"C={self.params.get('C')}: retrain with C=math.inf (--C inf), or read its coefficients"
            )
        statistics = dict(self.statistics)
        if data is not None:
            table = to_arrow(data)
            X = self.features.transform(table)
            statistics.update(multinomial_information(X, self.target.encode(table), self.coef, self.intercept))
        elif "fisher_information" not in statistics:
            raise ParameterError(
                "this model kept no information matrix (too many parameters, or trained before it was kept); "
                "pass the training rows: model.inference(data=...)"
            )
        # An unpenalised estimate is exactly 0 in every class only where training aliased the column.
        fallback = np.flatnonzero(np.all(self.coef == 0.0, axis=0))
        aliased = np.asarray(statistics.get("aliased", fallback), dtype=np.intp)
        result = multinomial_from_information(
            self.coef,
            self.intercept,
            statistics["fisher_information"],
            statistics["likelihood"],
            self.classes,
            self.design_names,
            aliased=aliased,
            level=level,
        )
        levels = self.info.get("reference_levels", {})
        references = [f"{label}:{column}={value}" for label in self.classes[1:] for column, value in levels.items()]
        return replace(result, reference_levels=[r for r in references if r in result.aliased])

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model as one ``.odl`` file (atomically); returns the path."""
        return write_artifact(*self.to_artifact(), path)

    def to_artifact(self) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
        """The manifest entry and the arrays of the model file (``from_artifact`` reads them back)."""
        body = {
            "kind": self.kind,
            "target": self.target.to_dict(),
            "features": self.features.to_dict(),
            "temperature": self.temperature,
            "params": self.params,
            "info": self.info,
        }
        return body, {"coef": self.coef, "intercept": self.intercept, **self.statistics}

    @classmethod
    def from_artifact(
        cls, body: dict[str, Any], arrays: dict[str, NDArray[Any]], info: dict[str, Any]
    ) -> MulticlassModel:
        statistics = dict(arrays)
        coef, intercept = statistics.pop("coef"), statistics.pop("intercept")
        return cls(
            features=FittedFeatures.from_dict(body["features"]),
            target=ClassTarget.from_dict(body["target"]),
            coef=coef,
            intercept=intercept,
            temperature=None if body.get("temperature") is None else float(body["temperature"]),
            params=body.get("params", {}),
            info=info,
            statistics=statistics,
        )
