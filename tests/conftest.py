from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "examples" / "data"


@pytest.fixture(scope="session")
def telco_path() -> Path:
    return DATA / "telco_churn.csv"


@pytest.fixture(scope="session")
def telco_table(telco_path: Path):
    import oddsline

    return oddsline.read_table(telco_path)


@pytest.fixture(scope="session")
def telco_model(telco_table):
    import oddsline

    return oddsline.train(telco_table, target="churn", positive="Yes")


@pytest.fixture(scope="session")
def telco_model_file(telco_model, tmp_path_factory) -> Path:
    """The telco model saved as churn.odl (served under the name "churn")."""
    return telco_model.save(tmp_path_factory.mktemp("telco_model") / "churn.odl")
