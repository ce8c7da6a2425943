"""Separation by a combination of columns in an unpenalised streamed fit (``separating_direction.py``):
the in-memory linear programme over every row is the reference. The streamed search starts from the
summary's row sample and adds the rows each candidate direction misclassifies; it must reach the
in-memory verdict whether or not the first candidate holds on the whole source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import oddsline
from oddsline.distributed import LocalEngine, separating_direction, train_streamed
from oddsline.sources import open_source

SPEC = oddsline.FeatureSpec.from_dict({"columns": [{"name": f"x{j}", "kind": "numeric"} for j in (1, 2, 3)]})


def _table(n: int, flipped: int = 0, seed: int = 1) -> pa.Table:
    """y = 1 above x1 + x2 = 0, 0 below, either on it (quasi-complete separation by x1 and x2), with
    ``flipped`` rows far from the boundary given the other label (then no direction separates)."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.integers(-2, 3, n).astype(float), rng.integers(-2, 3, n).astype(float)
    s = x1 + x2
    y = np.where(s > 0, 1, np.where(s < 0, 0, rng.integers(0, 2, n)))
    far = np.flatnonzero(np.abs(s) == 4)[-flipped:] if flipped else np.array([], dtype=np.intp)
    y[far] = 1 - y[far]
    return pa.table({"x1": x1, "x2": x2, "x3": rng.normal(size=n), "y": np.where(y == 1, "yes", "no")})


def _parts(table: pa.Table, folder: Path, files: int = 4) -> Path:
    folder.mkdir(parents=True)
    step = -(-table.num_rows // files)
    for i in range(files):
        pq.write_table(table.slice(i * step, step), folder / f"p{i}.parquet")
    return folder


@pytest.fixture
def rounds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the passes that collect misclassified rows, with a first programme of 300 sample rows (so
    that its candidate must be checked, and corrected, against the rest of the source)."""
    calls: list[int] = []
    original = separating_direction.misclassified_rows

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(separating_direction, "misclassified_rows", counted)
    monkeypatch.setattr(separating_direction, "_SAMPLE_ROWS", 300)
    return calls


def test_a_combination_that_separates_is_refused_naming_the_columns_in_memory_names(
    tmp_path: Path, rounds: list[int]
) -> None:
    table = _table(60_000)
    with pytest.raises(oddsline.SeparationError) as memory:
        oddsline.train(table, "y", spec=SPEC, C=float("inf"), test_size=0)
    source = open_source(_parts(table, tmp_path / "parts"))
    with pytest.raises(oddsline.SeparationError) as streamed:
        train_streamed(source, "y", engine=LocalEngine(2), spec=SPEC, C=float("inf"), test_size=0)
    assert set(streamed.value.columns) == set(memory.value.columns) == {0, 1}
    assert "'x1', 'x2'" in str(streamed.value) and rounds


def test_rows_that_break_the_samples_direction_let_the_fit_go_on(tmp_path: Path, rounds: list[int]) -> None:
    """Three rows outside the first programme's rows exclude its direction: the search adds them and
    finds no other, as the in-memory programme over every row finds none."""
    table = _table(60_000, flipped=3)
    source = open_source(_parts(table, tmp_path / "parts"))
    inf = float("inf")
    streamed = train_streamed(source, "y", engine=LocalEngine(2), spec=SPEC, C=inf, test_size=0, tol=1e-12)
    assert len(rounds) >= 1 and streamed.info["fit"]["converged"]
    # Near separation the optimum is ill-conditioned: compared where both are polished to 1e-12.
    X, y = streamed.features.transform(table), streamed.target.encode(table)
    memory = oddsline.LogisticRegression(C=inf, tol=1e-12).fit(X, y)
    np.testing.assert_allclose(streamed.coef, memory.coef_[0], rtol=1e-8)


def test_the_command_refuses_a_separated_folder_with_exit_2(tmp_path: Path) -> None:
    folder = _parts(_table(8_000, seed=3), tmp_path / "parts")
    done = subprocess.run(
        [sys.executable, "-m", "oddsline", "train", str(folder), "--target", "y", "--C", "inf",
         "--out", str(tmp_path / "m.odl")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "separated by 'x1', 'x2'" in done.stderr and "--C 1" in done.stderr
    assert not (tmp_path / "m.odl").exists()
