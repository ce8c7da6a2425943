"""Engine benchmarks F1-F2 (issue 3): oddsline vs scikit-learn and glum, side by side, equal objective.

    .venv/bin/python benchmarks/engine.py [--repeats 5] [--only F1] [--slow]

Reads ../shared/datasets (not part of a user's clone). Every contender minimises
sum_i logloss_i + ||beta||^2 / (2C) with an unpenalised intercept; the table reports its relative
objective gap to the best objective any contender reached with a tight tolerance, and a contender
above 1e-6 is marked as not converged. ``--slow`` adds scikit-learn's lbfgs (minutes per fit; 1 run).
"""

from __future__ import annotations

import argparse
import tracemalloc
import warnings
from typing import Any

import numpy as np

import oddsline
from harness import SHARED, Run, binary_objective, machine, markdown_table, timed


def flights_design() -> tuple[np.ndarray, np.ndarray]:
    """F1: 327k flights, target arr_delay > 15, one-hot carrier/origin/dest/month/hour/weekday + 3 numerics."""
    import pandas as pd

    df = pd.read_parquet(SHARED / "nyc_flights_2013.parquet")
    df = df[df["arr_delay"].notna()]
    y = (df["arr_delay"] > 15).to_numpy(dtype=float)
    weekday = pd.to_datetime(df[["year", "month", "day"]]).dt.dayofweek
    cats = pd.DataFrame(
        {c: df[c].astype(str) for c in ("carrier", "origin", "dest", "month", "hour")}
        | {"weekday": weekday.astype(str)}
    )
    onehot = pd.get_dummies(cats, dtype=float).to_numpy()
    nums = df[["distance", "sched_dep_time", "sched_arr_time"]].to_numpy(dtype=float)
    nums = (nums - nums.mean(axis=0)) / nums.std(axis=0)
    return np.ascontiguousarray(np.column_stack([onehot, nums])), y


def synthetic_unscaled(n: int = 200_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """F2: 30 correlated numerics on scales 1e-2..1e3 + 5 one-hot categoricals of 20 levels (130 columns)."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 6))
    mixing = rng.normal(size=(6, 30))
    nums = latent @ mixing + 0.5 * rng.normal(size=(n, 30))
    scales = np.logspace(-2, 3, 30)
    nums *= scales
    levels = rng.integers(0, 20, size=(n, 5))
    onehot = np.zeros((n, 100))
    for k in range(5):
        onehot[np.arange(n), 20 * k + levels[:, k]] = 1.0
    X = np.ascontiguousarray(np.column_stack([nums, onehot]))
    beta = np.r_[rng.normal(scale=0.3, size=30) / scales, rng.normal(scale=0.5, size=100)]
    eta = X @ beta - 0.5
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float)
    return X, y


def contenders(C: float, n: int, slow: bool) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression as SkLR

    out: dict[str, Any] = {
        "oddsline newton": lambda: oddsline.LogisticRegression(C=C, tol=1e-8),
        "sklearn newton-cholesky": lambda: SkLR(C=C, solver="newton-cholesky", tol=1e-7, max_iter=1000),
    }
    if slow:
        out["sklearn lbfgs"] = lambda: SkLR(C=C, solver="lbfgs", tol=1e-10, max_iter=20000)
    try:
        from glum import GeneralizedLinearRegressor

        # glum minimises  -loglik / sum(w) + alpha * ||beta||^2 / 2 : alpha = 1 / (C n) is the same optimum.
        out["glum irls"] = lambda: GeneralizedLinearRegressor(
            family="binomial", alpha=1.0 / (C * n), l1_ratio=0.0, gradient_tol=1e-7, max_iter=1000
        )
    except ImportError:
        pass
    return out


def coef_of(model: Any) -> tuple[np.ndarray, float]:
    coef = np.asarray(model.coef_).ravel()
    intercept = float(np.asarray(model.intercept_).ravel()[0])
    return coef, intercept


def bench(name: str, X: np.ndarray, y: np.ndarray, C: float, repeats: int, slow: bool) -> tuple[str, list[Run]]:
    from sklearn.linear_model import LogisticRegression as SkLR

    runs = []
    for contender, make in contenders(C, len(y), slow).items():
        reps = 1 if contender == "sklearn lbfgs" else repeats
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seconds, model = timed(lambda make=make: make().fit(X, y), reps)
        coef, intercept = coef_of(model)
        n_iter = getattr(model, "n_iter_", None)
        n_iter = int(np.max(n_iter)) if n_iter is not None else None
        note = ""
        if contender == "oddsline newton":
            tracemalloc.start()
            oddsline.LogisticRegression(C=C).fit(X, y)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            note = f"peak extra memory {peak / X.nbytes:.2f}x X ({X.nbytes / 1e6:.0f} MB)"
        runs.append(Run(contender, seconds, binary_objective(X, y, coef, intercept, C), n_iter, note))
        print(f"  {name} {contender}: {np.median(seconds):.3f}s obj {runs[-1].objective:.10g}", flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tight = SkLR(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000).fit(X, y)
        tight_ours = oddsline.LogisticRegression(C=C, tol=1e-12).fit(X, y)
    reference = min(
        [r.objective for r in runs]
        + [binary_objective(X, y, *coef_of(tight), C), binary_objective(X, y, *coef_of(tight_ours), C)]
    )
    title = f"{name}: {X.shape[0]:,} x {X.shape[1]}, L2, C = {C:g}"
    return markdown_table(title, runs, reference, peer="sklearn"), runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", choices=["F1", "F2"])
    parser.add_argument("--slow", action="store_true", help="include scikit-learn lbfgs (minutes)")
    args = parser.parse_args()
    print(machine())
    tables = []
    if args.only in (None, "F1"):
        X, y = flights_design()
        for C in (1.0, 1e4):
            tables.append(bench("F1 flights", X, y, C, args.repeats, args.slow)[0])
    if args.only in (None, "F2"):
        X, y = synthetic_unscaled()
        tables.append(bench("F2 synthetic unscaled", X, y, 1.0, args.repeats, args.slow)[0])
    print()
    print("\n".join(tables))


if __name__ == "__main__":
    main()
