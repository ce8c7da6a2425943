"""Engine benchmarks F1-F6 of issue 3: oddsline against scikit-learn and glum, side by side, equal objective.

    .venv/bin/python benchmarks/engine.py [--only F1,F4] [--repeats 5] [--slow] [--out FILE]

Reads ../shared/datasets (not part of a user's clone). All contenders minimise
sum_i logloss_i + (1/C) ((1 - r)/2 ||B||^2 + r ||B||_1) with unpenalised intercepts; each is timed at
the loosest of its own tolerances that reaches the common objective (harness.race). ``--slow`` adds
the contenders that take minutes per fit (scikit-learn lbfgs on F1/F2), run once.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import tracemalloc
import warnings
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp

import oddsline
from harness import SHARED, Contender, machine, markdown_table, race, versions

BANDWIDTH = 25e9  # bytes/s, DESIGN.md's figure for this machine
FLOPS = 95e9  # DGEMM flop/s


# -- data --------------------------------------------------------------------------------------------


def flights_design(drop_first: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """F1: 327k flights, target arr_delay > 15, one-hot carrier/origin/dest/month/hour/weekday + 3 numerics."""
    import pandas as pd

    df = pd.read_parquet(SHARED / "nyc_flights_2013.parquet")
    df = df[df["arr_delay"].notna()]
    y = (df["arr_delay"] > 15).to_numpy(dtype=float)
    weekday = pd.to_datetime(df[["year", "month", "day"]]).dt.day_of_week
    cats = pd.DataFrame(
        {c: df[c].astype(str) for c in ("carrier", "origin", "dest", "month", "hour")}
        | {"weekday": weekday.astype(str)}
    )
    onehot = pd.get_dummies(cats, dtype=float, drop_first=drop_first).to_numpy()
    nums = df[["distance", "sched_dep_time", "sched_arr_time"]].to_numpy(dtype=float)
    nums = (nums - nums.mean(axis=0)) / nums.std(axis=0)
    return np.ascontiguousarray(np.column_stack([onehot, nums])), y


def synthetic_unscaled(n: int = 200_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """F2: 30 correlated numerics on scales 1e-2..1e3 + 5 one-hot categoricals of 20 levels (130 columns)."""
    rng = np.random.default_rng(seed)
    nums = rng.normal(size=(n, 6)) @ rng.normal(size=(6, 30)) + 0.5 * rng.normal(size=(n, 30))
    scales = np.logspace(-2, 3, 30)
    nums *= scales
    onehot = np.zeros((n, 100))
    levels = rng.integers(0, 20, size=(n, 5))
    for k in range(5):
        onehot[np.arange(n), 20 * k + levels[:, k]] = 1.0
    X = np.ascontiguousarray(np.column_stack([nums, onehot]))
    beta = np.r_[rng.normal(scale=0.3, size=30) / scales, rng.normal(scale=0.5, size=100)]
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ beta - 0.5)))).astype(float)
    return X, y


def multinomial_dense(n: int = 100_000, d: int = 50, k: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """F4: 10 classes from a softmax of correlated Gaussian features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ (np.eye(d) + 0.2 * rng.normal(size=(d, d)))
    y = (X @ rng.normal(scale=0.2, size=(d, k)) + rng.gumbel(size=(n, k))).argmax(axis=1)
    return np.ascontiguousarray(X), y


def sparse_hashed(
    n: int = 500_000, width: int = 2**18, nnz: int = 45, seed: int = 0
) -> tuple[sp.csr_matrix, np.ndarray]:
    """F5: signed hashing of 45 Zipf(1.2) token draws a row into 2^18 columns (~31 distinct a row)."""
    rng = np.random.default_rng(seed)
    cols = (rng.zipf(1.2, size=n * nnz) * 2654435761) % width
    vals = rng.choice([-1.0, 1.0], size=n * nnz)
    X = sp.csr_matrix((vals, cols, np.arange(0, n * nnz + 1, nnz)), shape=(n, width))
    X.sum_duplicates()
    beta = rng.normal(scale=0.5, size=width) * (rng.uniform(size=width) < 0.05)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ beta - 1.0)))).astype(float)
    return X, y


def wide_dense(n: int = 1000, d: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """F6: 1k rows, 5k dense Gaussian columns, 50 of them informative."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    beta = np.zeros(d)
    beta[:50] = rng.normal(size=50)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(X @ beta) / 3))).astype(float)
    return X, y


# -- objectives ----------------------------------------------------------------------------------------


def coef_of(model: Any) -> tuple[np.ndarray, np.ndarray]:
    return np.atleast_2d(np.asarray(model.coef_)), np.atleast_1d(np.asarray(model.intercept_, dtype=float))


def objective(X: Any, y: np.ndarray, coef: np.ndarray, intercept: np.ndarray, C: float, l1_ratio: float = 0.0) -> float:
    scores = np.asarray(X @ coef.T) + intercept
    if coef.shape[0] == 1:
        eta = scores[:, 0]
        loss = float(np.sum(np.logaddexp(0.0, eta) - y * eta))
    else:
        loss = float(np.sum(logsumexp(scores, axis=1) - scores[np.arange(len(y)), y.astype(int)]))
    if math.isinf(C):
        return loss
    return loss + ((1 - l1_ratio) / 2 * float(np.sum(coef**2)) + l1_ratio * float(np.abs(coef).sum())) / C


def model_objective(X: Any, y: np.ndarray, C: float, l1_ratio: float = 0.0):
    return lambda model: objective(X, y, *coef_of(model), C, l1_ratio)


# -- contenders -------------------------------------------------------------------------------------


def quiet(fit):
    def run(*args: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fit(*args)

    return run


def ours(
    X: Any, y: np.ndarray, C: float, l1_ratio: float = 0.0, tols=(1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10)
) -> Contender:
    def info(model: Any) -> str:
        f = model.fit_info_
        counts = ", ".join(f"{k} {v}" for k, v in f["counts"].items())
        return f"{model.solver_['name']}: {f['n_iter']} iterations ({counts})"

    return Contender(
        "oddsline",
        quiet(lambda tol: oddsline.LogisticRegression(C=C, l1_ratio=l1_ratio, tol=tol).fit(X, y)),
        model_objective(X, y, C, l1_ratio),
        tols,
        info=info,
    )


def sklearn(
    X: Any, y: np.ndarray, C: float, solver: str, l1_ratio: float = 0.0, tols=None, repeats=None, max_iter=100_000
) -> Contender:
    from sklearn.linear_model import LogisticRegression as SkLR

    return Contender(
        f"sklearn {solver}",
        quiet(lambda tol: SkLR(C=C, l1_ratio=l1_ratio, solver=solver, tol=tol, max_iter=max_iter).fit(X, y)),
        model_objective(X, y, C, l1_ratio),
        tols or (1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10),
        repeats,
        info=lambda m: f"{int(np.max(m.n_iter_))} iterations",
    )


def glum(X: Any, y: np.ndarray, C: float, l1_ratio: float = 0.0, solver: str = "auto") -> Contender | None:
    try:
        from glum import GeneralizedLinearRegressor
    except ImportError:
        return None
    # glum minimises -loglik / sum(w) + alpha ((1 - r)/2 ||b||^2 + r ||b||_1): alpha = 1 / (C n).
    alpha = 1.0 / (C * X.shape[0])
    return Contender(
        f"glum {solver}",
        quiet(
            lambda tol: GeneralizedLinearRegressor(
                family="binomial", alpha=alpha, l1_ratio=l1_ratio, gradient_tol=tol, max_iter=10_000, solver=solver
            ).fit(X, y)
        ),
        model_objective(X, y, C, l1_ratio),
        (1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-10),
        info=lambda m: f"{m.n_iter_} iterations",
    )


# -- the benchmarks ---------------------------------------------------------------------------------


def f1(repeats: int, slow: bool, out: list[str]) -> None:
    X, y = flights_design()
    for C in (1.0, 1e4):
        field = [ours(X, y, C), sklearn(X, y, C, "newton-cholesky"), glum(X, y, C)]
        if slow:
            field.append(sklearn(X, y, C, "lbfgs", tols=(1e-6,), repeats=1))
        runs, ref = race([c for c in field if c], repeats)
        out.append(
            markdown_table(
                f"F1 flights {X.shape[0]:,} x {X.shape[1]}, L2, C = {C:g}", runs, ref, "oddsline", _peers(runs)
            )
        )
    out.append(_memory_and_floor(X, y))


def _memory_and_floor(X: np.ndarray, y: np.ndarray) -> str:
    tracemalloc.start()
    model = oddsline.LogisticRegression(C=1.0).fit(X, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    t0 = time.perf_counter()
    oddsline.LogisticRegression(C=1.0).fit(X, y)
    seconds = time.perf_counter() - t0
    counts = model.fit_info_["counts"]
    n, d = X.shape
    passes = 2 * counts["gradients"] + 2 * counts["hessians"]  # X beta and X^T g; eta and the blocked product
    if "CSR copy" in model.solver_["reason"]:
        # Solved on a CSR copy: a pass reads its non-zeros (8 + 4 bytes each) and the row pointers, a
        # Hessian costs two flops per pair of non-zeros in a row, and the copy itself reads X once.
        per_row = np.count_nonzero(X, axis=1).astype(np.float64)
        layout, pass_bytes = "its CSR copy", 12 * per_row.sum() + 8 * (n + 1)
        flops = counts["hessians"] * 2.0 * float(np.sum((per_row + 1) ** 2))
        copy = X.nbytes / BANDWIDTH
    else:
        layout, pass_bytes, flops, copy = "X", X.nbytes, counts["hessians"] * 2.0 * n * (d + 1) ** 2, 0.0
    floor = copy + passes * pass_bytes / BANDWIDTH + flops / FLOPS
    return (
        f"F1 (C = 1) memory and floor: peak memory allocated during the fit {peak / 1e6:.0f} MB = "
        f"{peak / X.nbytes:.2f}x the {X.nbytes / 1e6:.0f} MB of X. Newton made {counts['gradients']} gradient "
        f"evaluations and {counts['hessians']} Hessians on {layout}: "
        + (f"the copy reads X once ({copy:.3f} s) + " if copy else "")
        + f"{passes} passes of {pass_bytes / 1e6:.0f} MB ({passes * pass_bytes / BANDWIDTH:.3f} s at 25 GB/s) + "
        f"{flops / 1e9:.2f} GFLOP ({flops / FLOPS:.3f} s at 95 GFLOP/s) = floor {floor:.2f} s; "
        f"this fit took {seconds:.2f} s, {seconds / floor:.1f}x the floor.\n"
    )


def f2(repeats: int, slow: bool, out: list[str]) -> None:
    X, y = synthetic_unscaled()
    field = [ours(X, y, 1.0), sklearn(X, y, 1.0, "newton-cholesky"), glum(X, y, 1.0)]
    if slow:
        field.append(sklearn(X, y, 1.0, "lbfgs", tols=(1e-6,), repeats=1, max_iter=5000))
    runs, ref = race([c for c in field if c], repeats)
    out.append(
        markdown_table(
            f"F2 synthetic unscaled {X.shape[0]:,} x {X.shape[1]}, L2, C = 1", runs, ref, "oddsline", _peers(runs)
        )
    )


def f3(repeats: int, slow: bool, out: list[str]) -> None:
    X, y = flights_design()
    for l1_ratio in (1.0, 0.5):
        C = _c_keeping(X, y, l1_ratio, share=0.3)
        field = [ours(X, y, C, l1_ratio), glum(X, y, C, l1_ratio)]
        if l1_ratio == 1.0:
            field.append(sklearn(X, y, C, "liblinear", l1_ratio, tols=(1e-4, 1e-6, 1e-8), repeats=1))
        # saga's tolerance is on the largest coefficient change per epoch; on these standardised columns
        # 1e-3 already lands within 1e-6 of the optimum (measured: gap 1e-8 in 15 epochs).
        field.append(sklearn(X, y, C, "saga", l1_ratio, tols=(1e-3, 1e-4, 1e-5), repeats=3, max_iter=1000))
        runs, ref = race([c for c in field if c], repeats)
        kept = int(np.sum(oddsline.LogisticRegression(C=C, l1_ratio=l1_ratio).fit(X, y).coef_ != 0))
        title = f"F3 flights, l1_ratio = {l1_ratio:g}, C = {C:.3g} ({kept} of {X.shape[1]} coefficients non-zero)"
        out.append(markdown_table(title, runs, ref, "oddsline", _peers(runs)))
        one = next(r for r in runs if r.contender == "oddsline")
        grid = np.geomspace(C / 100, C, 50)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                path = oddsline.regularization_path(X, y, Cs=grid, l1_ratio=l1_ratio, tol=one.tol)
                times.append(time.perf_counter() - t0)
        seconds = statistics.median(times)
        out.append(
            f"50-point path (C from {C / 100:.3g} to {C:.3g}, warm starts), median of {repeats}: {seconds:.2f} s = "
            f"{seconds / one.median:.2f}x one fit at the last C ({one.median:.2f} s); all converged: {bool(path.converged.all())}.\n"
        )


def _c_keeping(X: np.ndarray, y: np.ndarray, l1_ratio: float, share: float) -> float:
    """The C on a fine default grid whose lasso/elastic-net fit keeps closest to `share` of the columns."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = oddsline.regularization_path(X, y, Cs=40, l1_ratio=l1_ratio, tol=1e-6)
    kept = (path.coef[:, 0] != 0).mean(axis=1)
    return float(path.Cs[int(np.argmin(np.abs(kept - share)))])


def f4(repeats: int, slow: bool, out: list[str]) -> None:
    X, y = multinomial_dense()
    field = [ours(X, y, 1.0), sklearn(X, y, 1.0, "lbfgs"), sklearn(X, y, 1.0, "newton-cholesky")]
    runs, ref = race(field, repeats)
    out.append(
        markdown_table(
            f"F4 multinomial, 10 classes, {X.shape[0]:,} x {X.shape[1]} dense, L2, C = 1",
            runs,
            ref,
            "oddsline",
            _peers(runs),
        )
    )


def f5(repeats: int, slow: bool, out: list[str]) -> None:
    X, y = sparse_hashed()
    # scikit-learn's lbfgs takes minutes a fit here: one timed run, and its ladder starts at 1e-5 (1e-4 stopped
    # at a relative gap of 4e-4 in every run so far: 206363.5 against 206275.6).
    field = [
        ours(X, y, 1.0, tols=(1e-4, 1e-5, 1e-6, 1e-7)),
        sklearn(X, y, 1.0, "lbfgs", tols=(1e-5, 1e-6, 1e-7), repeats=1),
    ]
    runs, ref = race(field, min(repeats, 3))
    title = f"F5 sparse hashed {X.shape[0]:,} x {X.shape[1]:,} ({X.nnz / X.shape[0]:.1f} non-zeros a row), L2, C = 1"
    out.append(markdown_table(title, runs, ref, "oddsline", _peers(runs)))


def f6(repeats: int, slow: bool, out: list[str]) -> None:
    X, y = wide_dense()
    field = [ours(X, y, 1.0), sklearn(X, y, 1.0, "lbfgs"), sklearn(X, y, 1.0, "newton-cholesky"), glum(X, y, 1.0)]
    runs, ref = race([c for c in field if c], repeats)
    out.append(
        markdown_table(f"F6 wide {X.shape[0]:,} x {X.shape[1]:,} dense, L2, C = 1", runs, ref, "oddsline", _peers(runs))
    )


def _peers(runs: list[Any]) -> list[str]:
    return [r.contender for r in runs if r.contender != "oddsline"]


BENCHMARKS = {"F1": f1, "F2": f2, "F3": f3, "F4": f4, "F5": f5, "F6": f6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset, e.g. F1,F4")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--slow", action="store_true", help="add the contenders that take minutes per fit")
    parser.add_argument("--out", help="also write the markdown tables to this file")
    args = parser.parse_args()
    header = f"Machine: {machine()}\n\nVersions: {versions('oddsline', 'sklearn', 'glum')}\n"
    print(header)
    out: list[str] = [header]
    for name in args.only.split(","):
        print(f"== {name}", flush=True)
        BENCHMARKS[name.strip()](args.repeats, args.slow, out)
    text = "\n".join(out)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
