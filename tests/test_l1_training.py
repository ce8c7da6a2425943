"""L1 and elastic-net training through the surface users meet: `oddsline train --l1-ratio` with the
inferred spec on a real table, in memory and streamed, `oddsline.train(l1_ratio=...)`, `inspect`, the
model card and `retrain`. The coefficients are checked by the optimality (KKT) conditions of the
objective on the model's own training design: an independent certificate, whatever the solver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import oddsline
from oddsline.registry import Registry
from oddsline.registry.gate import GateLimits
from oddsline.retrain import retrain


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "oddsline", *args], capture_output=True, text=True, check=False)


def _train(data: Path, options: str, out: Path) -> subprocess.CompletedProcess[str]:
    return _cli("train", str(data), *options.split(), "--out", str(out))


def _assert_optimal(model: oddsline.Model, table: pa.Table) -> None:
    """0 is in the subgradient of sum logloss + (1/C)((1 - r)/2 ||b||^2 + r ||b||_1) at the model."""
    X, y = model.features.transform(table), model.target.encode(table)
    C, r = float(model.params["C"]), float(model.params["l1_ratio"])
    p = 1.0 / (1.0 + np.exp(-(X @ model.coef + model.intercept)))
    gradient = X.T @ (p - y) + (1.0 - r) / C * model.coef
    active = model.coef != 0
    assert abs(float(np.sum(p - y))) < 1e-5  # the intercept is not penalised
    assert np.max(np.abs(gradient[active] + r / C * np.sign(model.coef[active]))) < 1e-5
    assert np.max(np.abs(gradient[~active])) <= r / C * (1 + 1e-9)


@pytest.mark.parametrize(("l1_ratio", "C", "penalty"), [("1", "0.02", "l1"), ("0.5", "0.05", "elasticnet")])
def test_cli_trains_the_lasso_and_elastic_net_to_their_optimum(
    telco_path: Path, telco_table: pa.Table, tmp_path: Path, l1_ratio: str, C: str, penalty: str
) -> None:
    out = tmp_path / "m.odl"
    done = _train(telco_path, f"--target churn --test-size 0 --l1-ratio {l1_ratio} --C {C} --json", out)
    assert done.returncode == 0, done.stderr
    model = oddsline.load(out)
    assert model.params["penalty"] == penalty and model.params["l1_ratio"] == float(l1_ratio)
    _assert_optimal(model, telco_table)
    zero = int(np.sum(model.coef == 0))
    assert 0 < zero < model.coef.size  # the penalty dropped some columns, not all
    ridge = oddsline.train(
        telco_table, "churn", C=float(C), test_size=0, spec=oddsline.FeatureSpec.infer(telco_table, target="churn")
    )
    assert not np.any(ridge.coef == 0)


def test_a_streamed_folder_trains_the_lasso_to_its_optimum(telco_table: pa.Table, tmp_path: Path) -> None:
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, (a, b) in enumerate([(0, 3000), (3000, 7043)]):
        pacsv.write_csv(telco_table.slice(a, b - a), parts / f"part{i}.csv")
    out = tmp_path / "s.odl"
    done = _train(parts, "--target churn --test-size 0 --l1-ratio 1 --C 0.02", out)
    assert done.returncode == 0, done.stderr
    model = oddsline.load(out)
    assert model.params["streamed"] and model.params["penalty"] == "l1"
    _assert_optimal(model, telco_table)


def test_inspect_shows_what_the_lasso_kept_without_standard_errors(telco_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.odl"
    trained = _train(telco_path, "--target churn --l1-ratio 1 --C 0.01", out)
    assert trained.returncode == 0, trained.stderr
    model = oddsline.load(out)
    text = _cli("inspect", str(out))
    assert text.returncode == 0, text.stderr
    assert "l1_ratio=1 (l1)" in text.stdout and "no standard errors" in text.stdout
    assert "(not selected)" in text.stdout and "P>|z|" not in text.stdout
    as_json = json.loads(_cli("inspect", str(out), "--json").stdout)["inference"]
    zeros = [name for name, b in zip(model.design_names, model.coef, strict=True) if b == 0]
    assert as_json["not_selected"] == zeros and zeros
    assert all(row["std_err"] is None for row in as_json["coefficients"])
    nonzero = int(np.count_nonzero(model.coef)) + 1  # the lasso's degrees of freedom, intercept included
    assert as_json["aic"] == pytest.approx(-2 * as_json["log_likelihood"] + 2 * nonzero)
    original = json.loads(_cli("inspect", str(out), "--json", "--units", "original").stdout)
    assert original["units"] == "original"
    rows = {row["name"]: row["coef"] for row in original["inference"]["coefficients"]}
    assert original["intercept"] == rows["intercept"] != model.intercept  # the top level in those units too
    assert all(original["coefficients"][name] == 0 for name in zeros)
    # With the training rows, bootstrap intervals; Wald ones are refused, as for the estimator.
    table = oddsline.read_table(telco_path)
    with pytest.raises(oddsline.InferenceError, match="post-selection"):
        model.inference(data=table.slice(0, 2000), cov_type="HC0")


def test_bad_l1_ratios_are_refused_with_exit_2(telco_path: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "x.odl")
    too_big = _cli("train", str(telco_path), "--target", "churn", "--l1-ratio", "1.5", "--out", out)
    assert too_big.returncode == 2 and "[0, 1]" in too_big.stderr
    unpenalised = _cli("train", str(telco_path), "--target", "churn", "--l1-ratio", "0.5", "--C", "inf", "--out", out)
    assert unpenalised.returncode == 2 and "finite C" in unpenalised.stderr, unpenalised.stderr
    multinomial = _cli("train", str(telco_path), "--target", "contract", "--l1-ratio", "1", "--out", out)
    assert multinomial.returncode == 2 and "--l1-ratio" in multinomial.stderr, multinomial.stderr
    both = _cli("train", str(telco_path), "--target", "churn", "--cv", "3", "--C", "0.5", "--out", out)
    assert both.returncode == 2 and "drop one of them" in both.stderr, both.stderr
    assert not Path(out).exists()
    with pytest.raises(oddsline.ParameterError, match="l1_ratio"):
        oddsline.train(oddsline.read_table(telco_path), "churn", l1_ratio=-0.1)


def test_retrain_and_the_card_keep_the_penalty(telco_table: pa.Table, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ODDSLINE_HOME", str(tmp_path / "home"))
    first = oddsline.train(telco_table.slice(0, 3500), "churn", positive="Yes", C=0.02, l1_ratio=1.0)
    path = first.save(tmp_path / "v1.odl")
    with Registry() as registry:
        registry.register("churn", path)
        registry.promote("churn", 1, force=True, reason="first model")
        lenient = GateLimits(max_logloss_increase=1.0, min_auc_delta=-1.0, max_ece=1.0)
        outcome = retrain(registry, "churn", telco_table.slice(3500), limits=lenient)
        challenger = registry.load(f"churn@{outcome['challenger']}")
    assert challenger.params["l1_ratio"] == 1.0 and np.any(challenger.coef == 0)
    held_out = tmp_path / "held_out.csv"
    pacsv.write_csv(telco_table.slice(3500), held_out)
    card = tmp_path / "card.html"
    done = _cli("evaluate", str(path), str(held_out), "--report", str(card))
    assert done.returncode == 0, done.stderr
    page = card.read_text()
    assert "L1 penalty kept" in page and "<td>nan</td>" not in page and "&mdash;" in page
