"""Peak memory of a streamed fit does not grow with the rows: 4x the rows moves peak RSS by < 10%.
The in-memory fit of the same files is the positive control: its peak grows with the rows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

PROBE = Path(__file__).with_name("rss_probe.py")


def _write(folder: Path, files: int, rows: int = 200_000) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(files):
        X = rng.normal(size=(rows, 8))
        group = rng.integers(0, 20, rows)
        eta = X @ np.linspace(-1, 1, 8) + 0.1 * group - 1
        y = (rng.random(rows) < 1 / (1 + np.exp(-eta))).astype(np.int8)
        columns = {f"x{j}": X[:, j] for j in range(8)} | {"group": pa.array([f"g{g}" for g in group]), "y": y}
        pq.write_table(pa.table(columns), folder / f"part{i}.parquet", row_group_size=50_000)
    return folder


def _peak(folder: Path, how: str) -> float:
    done = subprocess.run([sys.executable, str(PROBE), str(folder), how], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return float(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("rss")
    return _write(base / "small", 1), _write(base / "large", 4)


def test_streamed_peak_memory_is_flat_in_rows(sources: tuple[Path, Path]) -> None:
    small, large = sources
    low, high = _peak(small, "streamed"), _peak(large, "streamed")
    print(f"streamed peak RSS: {low:.0f} MiB for 200k rows, {high:.0f} MiB for 800k rows")
    assert high < 1.10 * low


def test_in_memory_peak_grows_with_rows_the_control(sources: tuple[Path, Path]) -> None:
    small, large = sources
    low, high = _peak(small, "memory"), _peak(large, "memory")
    print(f"in-memory peak RSS: {low:.0f} MiB for 200k rows, {high:.0f} MiB for 800k rows")
    # The streamed test's own bound fails here: 600k more rows of ten columns and their design matrix
    # (about 100 MiB, 13-14% of this peak). An absolute 100 MiB threshold was met with 1 MiB to spare.
    assert high > 1.10 * low


def test_a_wide_streamed_fit_holds_a_few_hessians_not_a_dense_sample_design(tmp_path: Path) -> None:
    """2,000 one-hot columns: the d x d Hessian is 32 MB, and a fit holds a few of them (a partition's,
    the merged one, the inference matrices). It used to build the 50,000-row sample's dense design
    (800 MB) two or three times for the evaluation, and a d x d matrix per batch: 3.8 GB at 4,000 levels."""
    folder = tmp_path / "wide"
    folder.mkdir()
    rng = np.random.default_rng(0)
    effects = rng.normal(scale=0.5, size=2_000)
    for i in range(3):
        level, x = rng.integers(0, 2_000, 25_000), rng.normal(size=25_000)
        y = (rng.random(25_000) < 1 / (1 + np.exp(-(effects[level] + 0.5 * x)))).astype(np.int8)
        table = pa.table({"c": pa.array([f"L{k}" for k in level]), "x": x, "y": y})
        pq.write_table(table, folder / f"part{i}.parquet", row_group_size=12_500)
    done = subprocess.run(
        [sys.executable, str(PROBE), str(folder), "wide"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    before, peak = (float(v) for v in done.stdout.split()[-2:])
    hessian_mib = 2_002**2 * 8 / 2**20
    print(
        f"wide streamed fit: {peak - before:.0f} MiB above the process's {before:.0f} MiB ({hessian_mib:.0f} MiB a Hessian)"
    )
    assert peak - before < 12 * hessian_mib
