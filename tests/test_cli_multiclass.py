"""Multinomial models through the real command, on real data: lending club's 7 loan grades and
statsmodels' anes96 party identification (7 classes), against the Python API and statsmodels' MNLogit."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

import oddsline

DATA = Path(__file__).parent.parent / "examples" / "data"
LENDING = DATA / "lending_club_loans.csv"
LEAKY = ["sub_grade", "interest_rate"]  # the grade, spelled finer, and its price
IGNORE = [flag for column in LEAKY for flag in ("--ignore", column)]
GRADES = ["A", "B", "C", "D", "E", "F", "G"]


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ODDSLINE_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "oddsline", *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )


def ok(*args: str | Path) -> str:
    result = run(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def jsonable(value: object) -> object:
    return json.loads(json.dumps(value, default=str))


@pytest.fixture(scope="module")
def lending():
    return oddsline.read_table(LENDING)


@pytest.fixture(scope="module")
def grade(tmp_path_factory):
    """`oddsline train` on the loan grade: 7 classes and no --positive, so a multinomial model."""
    out = tmp_path_factory.mktemp("grade") / "grade.odl"
    summary = json.loads(ok("train", LENDING, "--target", "grade", *IGNORE, "--out", out, "--json"))
    return out, summary


@pytest.fixture(scope="module")
def anes96(tmp_path_factory):
    sm = pytest.importorskip("statsmodels.api")
    path = tmp_path_factory.mktemp("anes96") / "anes96.csv"
    sm.datasets.anes96.load_pandas().data.to_csv(path, index=False)
    return path


def test_train_fits_a_multinomial_model_for_seven_grades_equal_to_the_python_api(grade, lending):
    out, summary = grade
    assert summary["kind"] == "multinomial_logistic_regression"
    assert summary["target"] == {"name": "grade", "classes": GRADES}
    model = oddsline.load(out)
    assert isinstance(model, oddsline.MulticlassModel) and model.classes == GRADES
    reference = oddsline.train_multiclass(lending, "grade", ignore=LEAKY)
    np.testing.assert_array_equal(model.coef, reference.coef)
    np.testing.assert_array_equal(model.intercept, reference.intercept)
    assert summary["evaluation"] == jsonable(reference.info["evaluation"])
    assert not set(LEAKY) & set(model.features.source_columns)
    text = ok("train", LENDING, "--target", "grade", *IGNORE, "--out", out)
    assert "multinomial model" in text and "7 classes (A, B, C, D, E, F, G)" in text and "roc_auc_ovr" in text


def test_evaluate_predict_and_inspect_take_the_multinomial_model(grade, lending, tmp_path):
    out, _ = grade
    model = oddsline.load(out)
    metrics = json.loads(ok("evaluate", out, LENDING, "--json", "--bootstrap", "100"))
    assert metrics == jsonable(model.evaluate(lending, n_bootstrap=100))
    assert metrics["classes"] == GRADES and metrics["training_overlap"] > 0.5  # the file holds the training rows
    text = ok("evaluate", out, LENDING, "--bootstrap", "50")
    assert "multinomial over 7 classes" in text and "accuracy" in text and "95% CI" in text

    scores_path = tmp_path / "scores.parquet"
    ok("predict", out, LENDING, "--out", scores_path, "--id", "emp_title")
    scores = pq.read_table(scores_path)
    assert scores.column_names == ["emp_title", *(f"probability_{g}" for g in GRADES), "prediction"]
    P = np.column_stack([scores.column(f"probability_{g}").to_numpy() for g in GRADES])
    np.testing.assert_array_equal(P, model.predict_proba(lending))
    assert scores.column("prediction").to_pylist() == list(model.predict(lending))
    assert scores.column("emp_title").to_pylist() == lending.column("emp_title").to_pylist()

    facts = json.loads(ok("inspect", out, "--json"))
    assert facts["kind"] == "multinomial_logistic_regression" and facts["classes"] == GRADES
    assert facts["coefficients"] == jsonable(model.coefficients())
    assert facts["inference"] is None  # penalised: coefficients, no standard errors
    text = ok("inspect", out)
    assert all(f" {g}" in text.splitlines()[4] for g in GRADES) and "intercept" in text


def test_unpenalised_party_id_equals_statsmodels_mnlogit(anes96, tmp_path):
    """anes96 PID, 7 classes, --C inf on every row: the log-likelihood, every probability and the
    coefficient table (MNLogit's parametrisation, against the first class) equal statsmodels'."""
    sm = pytest.importorskip("statsmodels.api")
    out = tmp_path / "pid.odl"
    ok("train", anes96, "--target", "PID", "--C", "inf", "--test-size", "0", "--out", out)
    model = oddsline.load(out)
    table = oddsline.read_table(anes96)
    python = oddsline.train_multiclass(table, "PID", C=math.inf, test_size=0.0)
    np.testing.assert_array_equal(model.coef, python.coef)

    X = model.features.transform(table)
    aliased = set(np.asarray(model.statistics["aliased"], dtype=int))
    keep = [j for j in range(X.shape[1]) if j not in aliased]
    exog = sm.add_constant(X[:, keep])
    reference = sm.MNLogit(model.target.encode(table), exog).fit(disp=0, method="newton", tol=1e-12, maxiter=200)

    scores_path = tmp_path / "pid.parquet"
    ok("predict", out, anes96, "--out", scores_path)
    scores = pq.read_table(scores_path)
    P = np.column_stack([scores.column(f"probability_{c}").to_numpy() for c in model.classes])
    np.testing.assert_allclose(P, reference.predict(exog), atol=1e-6, rtol=0)

    inference = json.loads(ok("inspect", out, "--json"))["inference"]
    assert inference["log_likelihood"] == pytest.approx(reference.llf, abs=1e-6)
    assert inference["null_log_likelihood"] == pytest.approx(reference.llnull, abs=1e-6)
    rows = {r["name"]: r for r in inference["coefficients"]}
    names = ["intercept", *(model.design_names[j] for j in keep)]
    for k, label in enumerate(model.classes[1:]):
        for i, name in enumerate(names):
            row = rows[f"{label}:{name}"]
            assert row["coef"] == pytest.approx(reference.params[i, k], rel=1e-6, abs=1e-8)
            assert row["std_err"] == pytest.approx(reference.bse[i, k], rel=1e-5)
    text = ok("inspect", out)
    assert "reference class 0.0" in text and "std err" in text


def test_multiclass_flag_on_two_classes_is_the_binary_fit_when_unpenalised(anes96, tmp_path):
    """--multiclass also takes a two-class target: unpenalised, its softmax gives the binary model's
    probabilities."""
    unpenalised = ["--target", "vote", "--C", "inf", "--test-size", "0"]
    ok("train", anes96, *unpenalised, "--out", tmp_path / "b.odl")
    ok("train", anes96, *unpenalised, "--multiclass", "--out", tmp_path / "m.odl")
    binary, softmax = oddsline.load(tmp_path / "b.odl"), oddsline.load(tmp_path / "m.odl")
    assert isinstance(binary, oddsline.Model) and isinstance(softmax, oddsline.MulticlassModel)
    table = oddsline.read_table(anes96)
    assert softmax.classes == binary.classes == [0.0, 1.0]
    np.testing.assert_allclose(softmax.predict_proba(table), binary.predict_proba(table), atol=1e-8)


def test_what_a_multinomial_model_does_not_take_is_refused_in_one_line(grade, tmp_path):
    out, _ = grade
    one_line_error(
        run("train", LENDING, "--target", "grade", "--positive", "A", "--multiclass", "--out", tmp_path / "x.odl"),
        "--positive and --multiclass",
    )
    one_line_error(
        run("train", LENDING, "--target", "grade", "--threshold", "f1", "--out", tmp_path / "x.odl"),
        "--threshold",
        "multinomial",
        "--positive VALUE",
    )
    one_line_error(
        run("train", LENDING, "--target", "annual_income", "--out", tmp_path / "x.odl"),
        "looks continuous",
        "derive a binary column",
    )
    one_line_error(run("evaluate", out, LENDING, "--report", tmp_path / "card.html"), "--report", "binary models")
    one_line_error(run("inspect", out, "--units", "original"), "--units original")
    one_line_error(run("export", "onnx", out, "--out", tmp_path / "g.onnx"), "oddsline export onnx", "binary")
    assert not (tmp_path / "x.odl").exists() and not (tmp_path / "g.onnx").exists()


def test_monitor_watches_the_inputs_and_the_confidence_of_a_multinomial_model(grade, lending, tmp_path):
    """The model kept its training rows' distributions: the same rows show no drift (exit 0); loans of
    high incomes drift in annual_income (exit 1), as the Python API reports them."""
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from oddsline.monitor import drift_report

    out, _ = grade
    model = oddsline.load(out)
    same = json.loads(ok("monitor", "--model", out, "--data", LENDING, "--json"))
    assert not same["any_drift"] and same["score"]["psi"] < 0.01
    high = lending.filter(pc.greater(lending["annual_income"], 90_000))
    pacsv.write_csv(high, tmp_path / "high.csv")
    result = run("monitor", "--model", out, "--data", tmp_path / "high.csv", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert "annual_income" in report["drifted"]
    expected = jsonable(drift_report(model, oddsline.read_table(tmp_path / "high.csv")))
    assert report["columns"] == expected["columns"] and report["score"] == expected["score"]
    assert "(confidence)" in run("monitor", "--model", out, "--data", LENDING).stdout
    one_line_error(run("monitor", "--model", out, "--log", tmp_path), "--log", "multinomial", "--data FILE")
