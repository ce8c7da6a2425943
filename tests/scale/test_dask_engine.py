"""The Dask engine on a real LocalCluster (2 worker processes): the same fit as the local engine, to the
bit, and a worker killed mid-fit is survived with the same result."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import oddsline
from oddsline.distributed import DaskEngine, LocalEngine, train_streamed
from oddsline.distributed.engines import local_cluster
from oddsline.sources import open_source

distributed = pytest.importorskip(
    "distributed", reason="the dask extra (pip install 'oddsline[dask]') is not installed"
)
dask = pytest.importorskip("dask")

SPEC = oddsline.FeatureSpec.from_dict(
    {
        "columns": [
            {"name": "tenure", "kind": "numeric"},
            {"name": "monthly_charges", "kind": "numeric", "clip": [0.01, 0.99]},
            {"name": "contract", "kind": "categorical"},
            {"name": "payment_method", "kind": "categorical"},
            {"name": "partner", "kind": "boolean"},
        ]
    }
)


@pytest.fixture(autouse=True)
def _environment_kept():
    """Dask's nannies set BLAS thread counts in os.environ when they (re)spawn a worker; later tests'
    subprocesses must not inherit them."""
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)


@pytest.fixture(scope="module")
def cluster():
    before = dict(os.environ)
    with local_cluster(2, memory_limit="1GiB") as c, distributed.Client(c) as client:
        assert dict(os.environ) == before  # the test session's later subprocesses see this environment
        yield c, client


def test_workers_run_single_threaded_blas_on_glibcs_default_allocator(cluster) -> None:
    """Dask's default MALLOC_TRIM_THRESHOLD_ pins glibc's mmap threshold (a pass cost ~30% more CPU)."""
    _, client = cluster
    environs = client.run(lambda: {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")})
    assert len(environs) == 2
    for environ in environs.values():
        assert environ == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def parts(telco_table: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("telco_parts")
    big = pa.concat_tables([telco_table] * 6)  # 42k rows in 9 files of several row groups
    for i, start in enumerate(range(0, big.num_rows, 5000)):
        pq.write_table(big.slice(start, 5000), folder / f"part{i}.parquet", row_group_size=1700)
    return folder


def test_dask_fit_is_the_local_fit_to_the_bit(cluster, parts: Path) -> None:
    _, client = cluster
    source = open_source(parts, batch_rows=2048)
    local = train_streamed(source, "churn", engine=LocalEngine(2), spec=SPEC, test_size=0.2)
    on_dask = train_streamed(source, "churn", engine=DaskEngine(client=client), spec=SPEC, test_size=0.2)
    assert np.array_equal(local.coef, on_dask.coef) and local.intercept == on_dask.intercept
    assert on_dask.info["engine"] == {"name": "dask", "workers": 2, "partitions": len(source.partitions())}
    assert local.info["evaluation"] == on_dask.info["evaluation"]


class _KillingEngine(DaskEngine):
    """Kills a worker process with SIGKILL as the third pass is sent, so tasks are lost in flight."""

    def __init__(self, client, victim: int) -> None:
        super().__init__(client=client)
        self.victim, self.calls = victim, 0

    def results(self, function, partitions, *arguments):
        self.calls += 1
        if self.calls == 3:
            os.kill(self.victim, signal.SIGKILL)
        return super().results(function, partitions, *arguments)


def test_a_worker_killed_mid_fit_is_survived_with_the_same_result(cluster, parts: Path) -> None:
    _, client = cluster
    source = open_source(parts, batch_rows=1024)
    expected = train_streamed(source, "churn", engine=LocalEngine(1), spec=SPEC, test_size=0)
    victim = next(iter(client.run(os.getpid).values()))
    engine = _KillingEngine(client, victim)
    survived = train_streamed(source, "churn", engine=engine, spec=SPEC, test_size=0)
    assert engine.calls > 3
    assert np.array_equal(expected.coef, survived.coef)
    client.wait_for_workers(2, timeout=30)  # the nanny restarted it
    assert victim not in client.run(os.getpid).values()


def test_dask_scores_equal_predict_proba_row_for_row(cluster, parts: Path, tmp_path: Path) -> None:
    from oddsline.distributed.score import score_source

    _, client = cluster
    source = open_source(parts, batch_rows=1500)
    model = train_streamed(source, "churn", engine=LocalEngine(1), spec=SPEC, test_size=0)
    rows, _, written = score_source(
        model, source, tmp_path / "scores", engine=DaskEngine(client=client), id_column="tenure"
    )
    assert rows == 42258 and len(written) == len(source.paths)
    for path, out in zip(source.paths, written, strict=True):
        table = pq.read_table(path)
        scored = pq.read_table(out)
        assert scored.column("tenure").to_pylist() == table.column("tenure").to_pylist()  # ids carried, in order
        expected = model.predict_proba(table.drop_columns(["churn"]))[:, 1]
        assert np.array_equal(scored.column("probability").to_numpy(), expected)


def test_a_dask_dataframe_trains_on_the_cluster_as_in_memory(cluster, telco_table: pa.Table) -> None:
    import dask.dataframe as dd

    frame = telco_table.to_pandas()
    ddf = dd.from_pandas(frame, npartitions=5)
    memory = oddsline.train(telco_table, "churn", spec=SPEC, test_size=0)
    on_cluster = oddsline.train(ddf, "churn", spec=SPEC, test_size=0)  # the cluster's client is the default
    assert on_cluster.info["engine"]["name"] == "dask" and on_cluster.info["engine"]["partitions"] == 5
    # Both stop at max |gradient| <= 1e-8, on different paths (the streamed one with a fresh Hessian
    # at every pass): equal to what that tolerance leaves free.
    assert np.max(np.abs(on_cluster.coef - memory.coef)) < 1e-7 * np.max(np.abs(memory.coef))
    on_threads = oddsline.train(ddf, "churn", spec=SPEC, test_size=0, engine="local")
    assert np.array_equal(on_threads.coef, on_cluster.coef)


def test_the_estimator_fits_dask_arrays_on_the_cluster_as_in_memory(cluster) -> None:
    import dask.array as da

    rng = np.random.default_rng(0)
    X = rng.normal(size=(30_000, 12))
    y = np.where(rng.random(30_000) < 1 / (1 + np.exp(-(X @ np.linspace(-1, 1, 12)))), "yes", "no")
    memory = oddsline.LogisticRegression(C=0.3, tol=1e-12).fit(X, y)
    streamed = oddsline.LogisticRegression(C=0.3, tol=1e-12).fit(
        da.from_array(X, chunks=(4000, 5)), da.from_array(y, chunks=9000)
    )
    assert "dask arrays (8 row blocks)" in streamed.solver_["reason"]
    assert list(streamed.classes_) == ["no", "yes"] and streamed.n_iter_[0] <= memory.n_iter_[0]
    np.testing.assert_allclose(streamed.coef_, memory.coef_, rtol=1e-10)
    lasso = oddsline.LogisticRegression(C=0.01, l1_ratio=1.0, tol=1e-10)
    np.testing.assert_allclose(
        lasso.fit(da.from_array(X, chunks=(4000, 12)), da.from_array(y, chunks=4000)).coef_,
        oddsline.LogisticRegression(C=0.01, l1_ratio=1.0, tol=1e-10).fit(X, y).coef_,
        rtol=1e-8,
        atol=1e-10,
    )
    with pytest.raises(oddsline.ParameterError, match="does not take sample_weight"):
        oddsline.LogisticRegression().fit(da.from_array(X), da.from_array(y), sample_weight=np.ones(30_000))


WORKER_LIMIT = 512 * 2**20


def _larger_than_two_workers(folder: Path) -> tuple[int, np.ndarray]:
    """9M rows of 16 float64 columns (1.15 GB once decoded, more than both workers' limits together),
    written as small dictionary-encoded files: the values are rounded to one decimal."""
    rng = np.random.default_rng(11)
    beta = np.linspace(-0.5, 0.5, 16)
    decoded = 0
    for i in range(18):
        X = np.round(rng.normal(size=(500_000, 16)), 1)
        y = (rng.random(500_000) < 1 / (1 + np.exp(-(X @ beta)))).astype(np.int8)
        table = pa.table({**{f"x{j}": X[:, j] for j in range(16)}, "y": y})
        decoded += table.nbytes
        pq.write_table(table, folder / f"part{i:02d}.parquet", row_group_size=100_000)
    return decoded, beta


def test_workers_with_a_memory_limit_below_the_data_complete_the_fit(tmp_path: Path) -> None:
    decoded, beta = _larger_than_two_workers(tmp_path)
    assert decoded > 2 * WORKER_LIMIT
    spec = oddsline.FeatureSpec.from_dict({"columns": [{"name": f"x{j}", "kind": "numeric"} for j in range(16)]})
    # A worker is restarted at 95% of its limit. Pausing (at 80%) is turned off: a paused worker waits
    # for memory that a streamed task never frees, and the test would hang instead of failing.
    with (
        dask.config.set({"distributed.worker.memory.pause": False}),
        local_cluster(2, memory_limit=WORKER_LIMIT) as c,
        distributed.Client(c) as client,
    ):
        pids = client.run(os.getpid)
        model = train_streamed(open_source(tmp_path), "y", engine=DaskEngine(client=client), spec=spec, test_size=0)
        # The nanny samples each worker's RSS every 100 ms and restarts one past 95% of its limit: the
        # same processes at the end mean no worker went past it. (ru_maxrss cannot tell: a spawned
        # worker inherits the high-water mark of the process that forked it.)
        assert client.run(os.getpid) == pids
        rss = client.run(lambda: __import__("psutil").Process().memory_info().rss)
    assert model.info["fit"]["converged"]
    assert max(rss.values()) < 0.95 * WORKER_LIMIT, rss
    # 9M rows: each coefficient within 0.01 of the one that generated the data (SE about 0.001).
    raw = model.coef / np.array([c.scale for c, _ in model.features.blocks()])
    np.testing.assert_allclose(raw, beta, atol=0.01)
