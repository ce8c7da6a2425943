"""The oddsline command end to end, through a subprocess, as a user runs it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import oddsline


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ODDSLINE_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "oddsline", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_train_evaluate_predict_inspect(telco_path, tmp_path):
    model = tmp_path / "churn.odl"
    trained = run("train", str(telco_path), "--target", "churn", "--out", str(model), "--json")
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(trained.stdout)
    assert summary["target"]["positive"] == "Yes"
    held_out = summary["evaluation"]
    assert 0.80 < held_out["roc_auc"] < 0.95 and held_out["n_rows"] == pytest.approx(0.2 * 7043, abs=1)

    evaluated = run("evaluate", str(model), str(telco_path), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads(evaluated.stdout)
    table = oddsline.read_table(telco_path)
    assert metrics == oddsline.load(model).evaluate(table)

    out = tmp_path / "scores.parquet"
    predicted = run("predict", str(model), str(telco_path), "--out", str(out), "--id", "tenure")
    assert predicted.returncode == 0, predicted.stderr
    scores = pq.read_table(out)
    assert scores.column_names == ["tenure", "probability", "prediction"]
    assert scores.num_rows == 7043
    assert scores.column("probability").to_pylist() == list(oddsline.load(model).predict_proba(table)[:, 1])

    csv_out = tmp_path / "scores.csv"
    assert run("predict", str(model), str(telco_path), "--out", str(csv_out)).returncode == 0
    with open(csv_out) as fh:
        rows = list(csv.DictReader(fh))
    assert {r["prediction"] for r in rows} <= {"Yes", "No"} and len(rows) == 7043

    inspected = run("inspect", str(model), "--json")
    assert inspected.returncode == 0, inspected.stderr
    facts = json.loads(inspected.stdout)
    assert "contract=Two year" in facts["coefficients"] and facts["info"]["n_train"] == 5634
    text = run("inspect", str(model))
    assert "intercept" in text.stdout and "contract=Two year" in text.stdout


def test_text_output_names_the_metrics_and_model_path(telco_path, tmp_path):
    result = run("train", str(telco_path), "--target", "churn", "--out", str(tmp_path / "m.odl"))
    assert result.returncode == 0
    for word in ("log_loss", "roc_auc", "brier", "accuracy", str(tmp_path / "m.odl")):
        assert word in result.stdout


def _one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    assert result.returncode == code, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_user_mistakes_give_one_line_and_exit_2(telco_path, tmp_path):
    out = tmp_path / "m.odl"
    _one_line_error(run("train", str(telco_path), "--target", "nope", "--out", str(out)), 2, "'nope'", "columns are")
    # Three contract types and no --positive: a multinomial model, which has no threshold to choose.
    _one_line_error(
        run("train", str(telco_path), "--target", "contract", "--threshold", "f1", "--out", str(out)),
        2,
        "--threshold",
        "--positive VALUE",
    )
    _one_line_error(
        run("train", str(telco_path), "--target", "churn", "--positive", "Maybe", "--out", str(out)), 2, "'Maybe'"
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    _one_line_error(run("train", str(empty), "--target", "churn", "--out", str(out)), 2, "empty")
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1\x00\x01garbage")
    _one_line_error(run("train", str(corrupt), "--target", "churn", "--out", str(out)), 2, "could not be read")
    _one_line_error(run("train", str(telco_path)), 2, "--target")
    _one_line_error(run("train", str(telco_path), "--target", "churn", "--C", "-1"), 2, "C must be positive")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [empty, corrupt] or sorted(tmp_path.iterdir()) == sorted([empty, corrupt])


def test_missing_target_values_are_refused_unless_dropped(tmp_path, telco_path):
    lines = telco_path.read_text().splitlines()
    header, rows = lines[0], lines[1:400]
    blank_target = [",".join(["", *r.split(",")[1:]]) for r in rows[:3]]
    data = tmp_path / "gaps.csv"
    data.write_text("\n".join([header, *blank_target, *rows[3:]]) + "\n")
    out = tmp_path / "m.odl"
    _one_line_error(run("train", str(data), "--target", "churn", "--out", str(out)), 2, "empty in 3 row")
    ok = run("train", str(data), "--target", "churn", "--out", str(out), "--drop-missing-target", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["info"]["rows_dropped_missing_target"] == 3


def test_damaged_model_file_is_refused_and_no_output_written(telco_model, telco_path, tmp_path):
    good = telco_model.save(tmp_path / "good.odl").read_bytes()
    truncated = tmp_path / "truncated.odl"
    truncated.write_bytes(good[: len(good) // 2])
    out = tmp_path / "scores.csv"
    _one_line_error(run("predict", str(truncated), str(telco_path), "--out", str(out)), 2, "truncated")
    _one_line_error(run("evaluate", str(truncated), str(telco_path)), 2, "truncated")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_every_verb_has_help():
    for verb in ("train", "evaluate", "predict", "inspect", "spec"):
        result = run(verb, "--help")
        assert result.returncode == 0 and "Example:" in result.stdout, verb


def test_spec_infer_then_train_with_the_edited_spec(telco_path, tmp_path):
    inferred = run("spec", "infer", str(telco_path), "--target", "churn")
    assert inferred.returncode == 0, inferred.stderr
    assert '{"name": "contract", "kind": "categorical"}  # text with 3 levels: one-hot' in inferred.stdout
    edited = inferred.stdout.replace(
        '{"name": "tenure", "kind": "numeric"}', '{"name": "tenure", "kind": "numeric", "bins": 4}'
    )
    spec = tmp_path / "spec.yaml"
    spec.write_text(edited)
    out = tmp_path / "m.odl"
    trained = run("train", str(telco_path), "--target", "churn", "--spec", str(spec), "--out", str(out), "--json")
    assert trained.returncode == 0, trained.stderr
    names = oddsline.load(out).design_names
    assert "tenure=(-inf, 9]" in names and "tenure" not in names
    spec.write_text(edited.replace('"kind": "numeric", "bins": 4', '"kind": "numeric", "bins": 4, "bogus": 1'))
    _one_line_error(
        run("train", str(telco_path), "--target", "churn", "--spec", str(spec), "--out", str(out)), 2, "bogus"
    )


def test_keys_sign_and_trusted_loading_from_the_command_line(telco_path, tmp_path):
    keys = run("keys", "generate", str(tmp_path / "team"))
    assert keys.returncode == 0, keys.stderr
    assert oct((tmp_path / "team.key").stat().st_mode & 0o777) == "0o600"
    out = tmp_path / "signed.odl"
    trained = run(
        "train", str(telco_path), "--target", "churn", "--out", str(out), "--sign-key", str(tmp_path / "team.key")
    )
    assert trained.returncode == 0, trained.stderr
    model = oddsline.load(out, trusted_keys=[tmp_path / "team.pub"])
    assert model.info["signed_by"]
    home = tmp_path / "home"
    strict = ["registry", "--home", str(home), "--require-signatures", "--trust-key", str(tmp_path / "team.pub")]
    assert run(*strict, "register", "churn", str(out)).stdout.strip() == "1"
    unsigned = tmp_path / "unsigned.odl"
    assert run("train", str(telco_path), "--target", "churn", "--out", str(unsigned)).returncode == 0
    _one_line_error(run(*strict, "register", "churn", str(unsigned)), 2, "not signed")


def test_evaluate_on_rows_of_one_class_says_what_is_undefined(telco_path, tmp_path):
    model = tmp_path / "m.odl"
    assert run("train", str(telco_path), "--target", "churn", "--out", str(model)).returncode == 0
    table = oddsline.read_table(telco_path)
    only_yes = tmp_path / "yes.csv"
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    pacsv.write_csv(table.filter(pc.equal(table.column("churn"), "Yes")), only_yes)
    done = run("evaluate", str(model), str(only_yes), "--bootstrap", "20")
    assert done.returncode == 0, done.stderr
    assert "roc_auc           undefined: ROC AUC needs both classes" in done.stdout
    card = run("evaluate", str(model), str(only_yes), "--report", str(tmp_path / "card.html"))
    assert card.returncode == 2 and "needs both classes of 'churn'" in card.stderr
    assert not (tmp_path / "card.html").exists()
