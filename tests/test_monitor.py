"""Drift on real seasonal data (NYC flights 2013, bundled sample): the month that moves is flagged, the
stable columns are not even though their p-values are tiny (large samples), a random split of one
month shows nothing; and the command's exit codes."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import oddsline
from conftest import DATA
from oddsline.monitor import DriftThresholds, drift_report
from oddsline.monitor.drift import compare

SPEC = oddsline.FeatureSpec.from_dict(
    {
        "columns": [
            {"name": "month", "kind": "numeric"},
            {"name": "hour", "kind": "numeric"},
            {"name": "carrier", "kind": "categorical"},
            {"name": "origin", "kind": "categorical"},
            {"name": "dest", "kind": "categorical", "min_frequency": 30},
            {"name": "distance", "kind": "numeric"},
        ]
    }
)


@pytest.fixture(scope="module")
def flights():
    table = oddsline.read_table(DATA / "nyc_flights_2013_sample.parquet")
    table = table.filter(pc.is_valid(table.column("arr_delay")))
    return table.append_column("late", pc.greater(table.column("arr_delay"), 15))


def test_seasonal_drift_is_found_where_it_is_and_nowhere_else(flights):
    first = flights.filter(pc.less_equal(flights.column("month"), 6))
    later = flights.filter(pc.greater(flights.column("month"), 6))
    model = oddsline.train(first, target="late", positive=True, spec=SPEC)
    report = drift_report(model, later)
    assert report["drifted"] == ["month"] and report["any_drift"]
    stable = ("carrier", "origin", "distance")
    for name in stable:  # significant at 20k rows, yet far too small to matter: not flagged
        assert report["columns"][name]["p_value"] < 0.01 and report["columns"][name]["psi"] < 0.05
    march = flights.filter(pc.equal(flights.column("month"), 3))
    order = np.random.default_rng(0).permutation(march.num_rows)
    half = march.num_rows // 2
    same = oddsline.train(march.take(pa.array(order[:half])), target="late", positive=True, spec=SPEC)
    assert not drift_report(same, march.take(pa.array(order[half:])))["any_drift"]


def test_decisions_need_both_size_and_evidence():
    reference = [0.25, 0.25, 0.25, 0.25, 0.0]
    small_shift_many_rows = compare(reference, [260_000, 250_000, 245_000, 245_000, 0], True, DriftThresholds())
    assert small_shift_many_rows["p_value"] < 1e-10 and not small_shift_many_rows["drift"]
    big_shift_few_rows = compare(reference, [4, 0, 0, 1, 0], True, DriftThresholds())
    assert big_shift_few_rows["psi"] > 0.2 and big_shift_few_rows["p_value"] > 0.01
    assert not big_shift_few_rows["drift"]
    big_shift_many_rows = compare(reference, [4000, 500, 500, 1000, 0], True, DriftThresholds())
    assert big_shift_many_rows["drift"]
    # PSI by hand
    r, c = np.array([0.25] * 4), np.array([4000, 500, 500, 1000]) / 6000
    assert big_shift_many_rows["psi"] == pytest.approx(float(np.sum((c - r) * np.log(c / r))))


def test_monitor_command_exit_codes(flights, tmp_path):
    import pyarrow.parquet as pq

    first = flights.filter(pc.less_equal(flights.column("month"), 6))
    model = oddsline.train(first, target="late", positive=True, spec=SPEC)
    path = model.save(tmp_path / "m.odl")
    pq.write_table(flights.filter(pc.greater(flights.column("month"), 6)), tmp_path / "later.parquet")
    sample = np.random.default_rng(1).choice(first.num_rows, 3000, replace=False)
    pq.write_table(first.take(pa.array(sample)), tmp_path / "same.parquet")
    run = lambda data: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "oddsline", "monitor", "--model", str(path), "--data", str(data), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    drifted = run(tmp_path / "later.parquet")
    assert drifted.returncode == 1 and json.loads(drifted.stdout)["drifted"] == ["month"]
    calm = run(tmp_path / "same.parquet")
    assert calm.returncode == 0, calm.stdout


def test_triggers_need_a_streak_then_hold_with_hysteresis_and_cool_down(tmp_path):
    from oddsline.monitor.triggers import evaluate_triggers, parse_rule

    rule = parse_rule("drift_psi > 0.2 on score for 2 windows")
    state = tmp_path / "state.json"
    fired = []
    for psi in (0.30, 0.10, 0.30, 0.30, 0.25, 0.19, 0.30, 0.17, 0.30, 0.30, 0.30, 0.30, 0.30):
        (result,) = evaluate_triggers([rule], {"score_psi": psi}, {}, state)
        fired.append(result["fired"])
    # fires at 4 (two in a row); stays active through .25, .19 (inside the 10% margin below 0.2) and .30;
    # clears at .17; a new streak fires at 10; then stays active.
    assert fired == [False, False, False, True, False, False, False, False, False, True, False, False, False]
    # Cool-down: after firing at window 1 and clearing at 2, a breach may not fire again before window 5.
    quick = parse_rule("drift_psi > 0.2")
    again = [
        evaluate_triggers([quick], {"score_psi": psi}, {}, tmp_path / "q.json")[0]["fired"]
        for psi in (0.3, 0.1, 0.3, 0.3, 0.3)
    ]
    assert again == [True, False, False, False, True]
    relative = parse_rule("logloss +10% vs training")
    (result,) = evaluate_triggers([relative], {"log_loss": 0.50}, {"log_loss": 0.44}, tmp_path / "r.json")
    assert result["threshold"] == pytest.approx(0.484) and result["fired"]
    with pytest.raises(oddsline.ParameterError, match="not a rule"):
        parse_rule("psi is high")
    with pytest.raises(oddsline.ParameterError, match="unknown metric"):
        parse_rule("accuracy < 0.9")


def test_monitor_triggers_on_real_seasonal_drift_fire_once(flights, tmp_path):
    import pyarrow.parquet as pq

    first = flights.filter(pc.less_equal(flights.column("month"), 6))
    path = oddsline.train(first, target="late", positive=True, spec=SPEC).save(tmp_path / "m.odl")
    pq.write_table(flights.filter(pc.greater(flights.column("month"), 6)), tmp_path / "later.parquet")
    command = [
        sys.executable, "-m", "oddsline", "monitor", "--model", str(path), "--data", str(tmp_path / "later.parquet"),
        "--trigger", "drift_psi > 0.2 on month for 2 windows", "--trigger", "ece > 0.5",
        "--state", str(tmp_path / "state.json"), "--json",
    ]  # fmt: skip
    codes = []
    for _ in range(3):
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        codes.append(done.returncode)
        triggers = json.loads(done.stdout)["triggers"]
        assert triggers[1]["value"] < 0.5 and not triggers[1]["fired"]  # labelled: the target is in the data
    assert codes == [0, 1, 0]  # a streak of one, then fired, then held (no second alarm)


def test_drift_through_the_prediction_log_with_an_html_report(flights, tmp_path):
    pytest.importorskip("fastapi", reason="the serve extra is not installed")
    pytest.importorskip("matplotlib", reason="the report extra is not installed")
    from fastapi.testclient import TestClient

    from oddsline.serve import Settings, create_app
    from oddsline.serve.models import load_served

    first = flights.filter(pc.less_equal(flights.column("month"), 6))
    path = oddsline.train(first, target="late", positive=True, spec=SPEC).save(tmp_path / "flights.odl")
    later = flights.filter(pc.greater(flights.column("month"), 6)).select(
        [c["name"] for c in SPEC.to_dict()["columns"]]
    )
    order = np.random.default_rng(2).permutation(later.num_rows)[:4000]
    rows = later.take(pa.array(order)).to_pylist()
    log = tmp_path / "log"
    with TestClient(create_app([load_served(str(path))], Settings(prediction_log=str(log), max_rows=1000))) as client:
        for start in range(0, len(rows), 500):
            assert client.post("/v1/models/flights/predict", json=rows[start : start + 500]).status_code == 200
    report_file = tmp_path / "monitor.html"
    # Without the serve extra: monitor reads the log through monitor/ alone (None in sys.modules makes
    # any import of these names fail). The command line's parser reads only serve/settings.py (the
    # serve command's defaults, no FastAPI); any other serve module imported exits 99.
    without_serve = (
        "import sys; sys.modules.update(dict.fromkeys(['fastapi', 'uvicorn', 'msgspec']));"
        "from oddsline.cli.main import main; code = main(sys.argv[1:]);"
        "served = [m for m, v in sys.modules.items() if m.startswith('oddsline.serve') and v is not None];"
        "sys.exit(99 if set(served) - {'oddsline.serve', 'oddsline.serve.settings'} else code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", without_serve, "monitor", "--model", str(path), "--log", str(log), "--window", "1d",
         "--report", str(report_file), "--json"],
        capture_output=True,
        text=True,
        timeout=180,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["rows"] == 4000 and report["drifted"] == ["month"]
    assert report["freshness"]["age_seconds"] < 600
    page = report_file.read_text()
    assert page.count("<svg") >= 3 and "month" in page and "http://" not in page.replace("http://www.w3.org", "")


def test_binned_wasserstein_agrees_with_scipy_on_the_clipped_values():
    from scipy.stats import wasserstein_distance

    from oddsline.monitor.drift import _wasserstein
    from oddsline.monitor.reference import histogram

    rng = np.random.default_rng(0)
    before, after = rng.normal(size=100_000), rng.normal(loc=0.3, scale=1.2, size=100_000)
    edges = list(np.quantile(before, np.linspace(0.1, 0.9, 9)))
    r = np.array(histogram(before, edges)) / before.size
    c = np.array(histogram(after, edges)) / after.size
    exact = wasserstein_distance(np.clip(before, edges[0], edges[-1]), np.clip(after, edges[0], edges[-1]))
    # nine bins stand in for the values: agreement to the binning error, not to the last digit
    assert _wasserstein(r, c, edges) == pytest.approx(exact / (edges[-1] - edges[0]), rel=0.1)
    assert _wasserstein(r, r, edges) == 0.0


def test_monitor_reads_a_log_row_the_server_accepted_with_text_for_a_number(telco_model, telco_table, tmp_path):
    """A request may send "NaN" or "12" (text) for a numeric column; the server scores it (as missing, as
    12) and logs it as spelled. monitor --log reads it the same way instead of crashing (issue 20)."""
    pytest.importorskip("fastapi", reason="the serve extra is not installed")
    from fastapi.testclient import TestClient

    from oddsline.monitor.logged_rows import logged_table
    from oddsline.serve import Settings, create_app
    from oddsline.serve.models import load_served

    path = telco_model.save(tmp_path / "churn.odl")
    rows = telco_table.slice(0, 600).drop(["churn"]).to_pylist()
    rows[0]["tenure"], rows[1]["tenure"] = "NaN", "12"
    log = tmp_path / "log"
    settings = Settings(prediction_log=str(log), max_rows=1000, watch_seconds=0, drift_seconds=0)
    with TestClient(create_app([load_served(str(path))], settings)) as client:
        answer = client.post("/v1/models/churn/predict", json=rows)
        assert answer.status_code == 200
    done = subprocess.run(
        [sys.executable, "-m", "oddsline", "monitor", "--model", str(path), "--log", str(log), "--json"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode in (0, 1), done.stderr  # drift or not, but never an error
    assert json.loads(done.stdout)["rows"] == 600
    from oddsline.monitor.prediction_files import read_predictions

    table = logged_table(read_predictions(log).column("features").to_pylist(), telco_model.features)
    tenure = table.column("tenure").to_pylist()
    assert table.column("tenure").type == pa.float64() and math.isnan(tenure[0]) and tenure[1] == 12.0


def test_a_boolean_spelled_otherwise_than_in_training_is_no_drift(telco_table, telco_model):
    """telco's senior_citizen is 0/1 in the file; a client sending "Yes"/"No" gets the same scores, and
    used to raise a drift alarm (PSI 18: every value an unknown level)."""
    rows = telco_table.slice(0, 2000)
    at = rows.column_names.index("senior_citizen")
    spelled = rows.set_column(
        at, "senior_citizen", pa.array(["Yes" if v else "No" for v in rows.column("senior_citizen").to_pylist()])
    )
    assert telco_model.predict_proba(spelled).tolist() == telco_model.predict_proba(rows).tolist()
    as_trained = drift_report(telco_model, rows)["columns"]["senior_citizen"]
    as_sent = drift_report(telco_model, spelled)["columns"]["senior_citizen"]
    assert as_sent["psi"] == as_trained["psi"] and not as_sent["drift"]
