"""The solver side of a streamed fit: passes of the kernel at the points the in-memory solver asks for.

``Passes`` holds what every pass ships to the partitions (the job, the fitted features, the target, the
class weights, the out-of-fold tables); ``solve`` starts where the in-memory fit starts (zero
coefficients, the intercept at the log-odds) or, on a source much larger than its row sample, at the
sample's optimum (``warm_start.py``), identifies an unpenalised fit from the first pass's Gram
matrix, and runs the in-memory solver on a ``StreamedProblem``: Newton, proximal Newton + CD for L1, or
L-BFGS past 1500 parameters.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from .._threads import numpy_owns_the_cores
from ..core.inference import aliased_in_gram
from ..core.solvers import SolverResult, fit_cd, fit_lbfgs, fit_newton
from ..core.solvers.choice import NEWTON_MAX_PARAMS
from ..estimator import _DEFAULT_MAX_ITER
from ..features import FeatureSpec, FittedFeatures
from ..identification import reference_levels
from ..target import BinaryTarget
from .engines import Engine
from .feature_fit import PendingFills
from .job import Job
from .kernel import Sums, newton_partition
from .order_stats import RankQuery
from .problem import StreamedProblem
from .separating_direction import raise_if_separated_by_columns
from .separation import raise_if_separated
from .target_folds import TargetFolds
from .warm_start import SampleStart, sample_start

__all__ = ["SOLVERS", "Passes", "Solved", "choose_solver", "solve", "statistics"]

SOLVERS: dict[str, Any] = {"newton": fit_newton, "cd": fit_cd, "lbfgs": fit_lbfgs}


@dataclass(frozen=True)
class Passes:
    engine: Engine
    partitions: list[Any]
    job: Job
    features: FittedFeatures
    target: BinaryTarget
    weights: tuple[float, float]  # of the negative and the positive class
    cross_fitted: tuple[TargetFolds, ...] = ()

    def evaluate(
        self,
        theta: NDArray[np.float64],
        hessian: bool,
        design: bool = False,
        ranks: dict[tuple[str, int], RankQuery] | None = None,
    ) -> Sums:
        """Loss, gradient (and Hessian, design moments, replies to rank queries) summed over every
        training row at theta."""
        sums: Sums = self.engine.fold(
            newton_partition,
            self.partitions,
            self.job,
            self.features,
            self.target,
            self.weights,
            theta,
            hessian,
            design,
            self.cross_fitted,
            ranks,
            start=Sums(),
        )
        return sums

    def run(self, function: Any, *arguments: Any) -> list[Any]:
        """``function(partition, job, *arguments)`` on every partition (a round of rank queries)."""
        return self.engine.map(function, self.partitions, self.job, *arguments)


@dataclass
class Solved:
    result: SolverResult
    theta: NDArray[np.float64]  # [beta..., intercept], zeros at aliased columns
    first: Sums  # the first pass, with the design's column moments
    at_optimum: Sums  # with the Hessian: the inference matrices
    aliased: NDArray[np.intp]
    references: dict[int, tuple[str, str]]
    problem: StreamedProblem
    solver: str
    reason: str
    passes: Passes  # with the features as the fit ends (the exact fills of ``PendingFills``)
    start: SampleStart | None = None


def choose_solver(n_params: int, l1_ratio: float) -> tuple[str, str]:
    if l1_ratio > 0:
        return "cd", "L1/elastic net: proximal Newton with coordinate descent on the merged quadratic"
    if n_params > NEWTON_MAX_PARAMS:
        return "lbfgs", f"{n_params} parameters > {NEWTON_MAX_PARAMS}: L-BFGS on streamed gradients, no Hessian"
    return "newton", "exact Newton (Hessian, gradient and loss from one pass)"


def solve(
    passes: Passes,
    spec: FeatureSpec,
    counts: tuple[int, int],
    *,
    C: float,
    l1_ratio: float,
    tol: float,
    sample: pa.Table | None = None,
    pending: PendingFills | None = None,
) -> Solved:
    """The streamed fit; with a ``sample`` of the training rows, Newton starts from its optimum where the
    source is large enough for that to save passes (``warm_start.py``). The first pass also answers the
    ``pending`` medians."""
    d = passes.features.n_design
    weights = passes.weights
    total_weight = weights[0] * counts[0] + weights[1] * counts[1]
    rate = float(np.clip(weights[1] * counts[1] / total_weight, 1e-12, 1 - 1e-12))
    theta0 = np.zeros(d + 1)
    theta0[-1] = math.log(rate / (1.0 - rate))
    solver, reason = choose_solver(d + 1, l1_ratio)
    start = sample_start(
        passes.features,
        passes.target,
        sample,
        weights,
        solver=solver,
        C=C,
        l1_ratio=l1_ratio,
        total_weight=total_weight,
        n_train=sum(counts),
    )
    if start is not None:
        theta0 = start.theta.copy()
    queries = pending.queries if pending is not None and pending.queries else None
    first = passes.evaluate(theta0, solver != "lbfgs" or math.isinf(C), design=True, ranks=queries)
    if pending is not None and first.ranks is not None:
        features = pending.apply(passes.features, first.ranks.per_query(), passes.job, passes.run)
        passes = dataclasses.replace(passes, features=features)
    if math.isinf(C):
        raise_if_separated(first, theta0, passes.features, passes.target)
    references = reference_levels(spec, passes.features) if math.isinf(C) else {}
    aliased = np.array([], dtype=np.intp)
    if math.isinf(C):
        assert first.hessian is not None
        gram = first.hessian / max(float(np.max(np.diag(first.hessian))), 1e-300)
        aliased = np.asarray(aliased_in_gram(gram, d, tuple(references)), dtype=np.intp)
    keep = np.setdiff1d(np.arange(d + 1), aliased)
    if math.isinf(C):
        raise_if_separated_by_columns(passes, sample, keep, passes.job.target)
    problem = StreamedProblem(
        passes.evaluate,
        n_features=d,
        total_weight=total_weight,
        n_rows=sum(counts),
        C=C,
        l1_ratio=l1_ratio,
        keep=keep,
        hessians=solver != "lbfgs",
    )
    problem.remember(theta0[keep], first)
    with numpy_owns_the_cores():
        result = SOLVERS[solver](problem, theta0[keep], tol=tol, max_iter=_DEFAULT_MAX_ITER[solver])
    at_optimum = problem.sums(result.theta, hessian=True)
    theta = problem.full_theta(result.theta)
    return Solved(result, theta, first, at_optimum, aliased, references, problem, solver, reason, passes, start)


def statistics(solved: Solved) -> dict[str, NDArray[np.float64]]:
    """What the model keeps for inference: the information matrices at the optimum over [beta...,
    intercept] and [llf, llnull, nobs], from the sums of every training row."""
    at, problem = solved.at_optimum, solved.problem
    assert at.hessian is not None
    info = at.hessian.copy()
    hess = info.copy()
    idx = np.arange(solved.theta.size - 1)
    hess[idx, idx] += problem.l2 * problem.total_weight
    positives = at.weighted_positives
    rate = positives / at.weight
    llnull = 0.0 if rate in (0.0, 1.0) else positives * math.log(rate) + (at.weight - positives) * math.log(1 - rate)
    out = {
        "fisher_information": info,
        "penalised_hessian": hess,
        "likelihood": np.array([-at.loss, llnull, at.weight]),
        "design_mean": np.array([m.mean for m in solved.first.design or []]),
    }
    if math.isinf(problem.C):
        out["aliased"] = solved.aliased.astype(np.float64)
    return out
