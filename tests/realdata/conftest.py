"""Real tables as a user brings them: the bundled datasets, statsmodels' bundled ones, and a pandas
export of the flights data — each written to a file and handed to the real command."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "data"
TESTS_DATA = ROOT / "tests" / "data"


@dataclass(frozen=True)
class Dataset:
    name: str
    path: Path
    target: str
    positive: str | None = None
    leaky: tuple[str, ...] = ()  # columns that record the outcome: the default path must name them

    def train_args(self) -> list[str]:
        return [str(self.path), "--target", self.target] + (["--positive", self.positive] if self.positive else [])


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ODDSLINE_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "oddsline", *args], capture_output=True, text=True, env=env, timeout=600
    )


def _statsmodels_csv(folder: Path, name: str) -> Path:
    """statsmodels' bundled datasets (shipped with the package, read offline), with a binary target."""
    sm = pytest.importorskip("statsmodels.api")
    frame = getattr(sm.datasets, name).load_pandas().data
    if name == "fair":
        frame["affair"] = np.where(frame["affairs"] > 0, "yes", "no")  # `affairs` then leaks it
    if name == "star98":
        frame["above"] = (frame["NABOVE"] > frame["NBELOW"]).astype(int)
        frame = frame.drop(columns=["NABOVE", "NBELOW"])
    path = folder / f"{name}.csv"
    frame.to_csv(path, index=False)
    return path


def _flights_export(folder: Path, source: Path, name: str) -> Path:
    """The flights rows with a `late` target, written by pandas from a filtered frame (as exports are:
    the index is stored in the file as ``__index_level_0__``)."""
    pd = pytest.importorskip("pandas")
    frame = pd.read_parquet(source)
    frame = frame[frame["arr_delay"].notna()].copy()
    frame["late"] = np.where(frame["arr_delay"] > 15, "yes", "no")
    path = folder / f"{name}.parquet"
    frame.to_parquet(path)
    return path


@pytest.fixture(scope="session")
def real_datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Dataset]:
    folder = tmp_path_factory.mktemp("realdata")
    sets = [
        Dataset("telco", EXAMPLES / "telco_churn.csv", "churn"),
        Dataset("credit_scoring", EXAMPLES / "credit_scoring.csv", "Status"),
        Dataset("islr_default", EXAMPLES / "islr_default.csv", "default"),
        Dataset("caravan", EXAMPLES / "caravan_insurance.csv", "Purchase"),
        Dataset("phone_churn", EXAMPLES / "phone_churn.csv", "churn"),
        Dataset("spam7", EXAMPLES / "spam7.csv", "yesno"),
        Dataset("lending_club", EXAMPLES / "lending_club_loans.csv", "loan_status", "Fully Paid", ("balance",)),
        Dataset(
            "flights_sample",
            _flights_export(folder, EXAMPLES / "nyc_flights_2013_sample.parquet", "flights_sample"),
            "late",
            leaky=("arr_delay",),
        ),
        Dataset(
            "flights_all_columns",
            _flights_export(folder, TESTS_DATA / "nyc_flights_2013_all_columns_5k.parquet", "flights_all"),
            "late",
            leaky=("arr_delay",),
        ),
        Dataset("spector", _statsmodels_csv(folder, "spector"), "GRADE"),
        Dataset("anes96", _statsmodels_csv(folder, "anes96"), "vote"),
        Dataset("fair", _statsmodels_csv(folder, "fair"), "affair", leaky=("affairs",)),
        Dataset("star98", _statsmodels_csv(folder, "star98"), "above"),
    ]
    return {d.name: d for d in sets}
