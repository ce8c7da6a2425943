"""What a trained Model says about rows: one-row scores, exact additive explanations, coefficients in
original units — each against an independent computation."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

import oddsline
from oddsline import FeatureSpec


def test_predict_one_matches_the_table_path_on_real_rows(telco_model, telco_table):
    rows = telco_table.slice(0, 50).to_pylist()
    p_table = telco_model.predict_proba(telco_table.slice(0, 50))[:, 1]
    labels = telco_model.predict(telco_table.slice(0, 50))
    for row, p, label in zip(rows, p_table, labels, strict=True):
        one = telco_model.predict_one(row)
        assert one.probability == p
        assert one.label == label and one.decision == (p >= telco_model.threshold)


def test_explanations_are_exact_and_add_up_to_the_log_odds(telco_model, telco_table):
    rows = telco_table.slice(100, 20)
    explanation = telco_model.explain(rows)
    log_odds = telco_model.decision_function(rows)
    np.testing.assert_allclose(explanation.base + explanation.values.sum(axis=1), log_odds, rtol=1e-12, atol=1e-12)
    # Brute force: a column's contribution is the change in log-odds when its design block alone
    # moves from the training mean to the row's values.
    X = telco_model.features.transform(rows)
    mean = telco_model.statistics["design_mean"]
    names = explanation.names
    for (column, block), k in zip(telco_model.features.blocks(), range(len(names)), strict=True):
        moved = np.tile(mean, (X.shape[0], 1))
        moved[:, block] = X[:, block]
        expected = moved @ telco_model.coef - mean @ telco_model.coef
        np.testing.assert_allclose(explanation.values[:, k], expected, rtol=1e-10, atol=1e-12)
        assert names[k] == column.name
    design = telco_model.explain(rows, by="design")
    assert design.names == telco_model.design_names
    with pytest.raises(oddsline.ParameterError, match="by must be"):
        telco_model.explain(rows, by="row")


def test_coefficients_in_original_units_match_an_unscaled_fit():
    from sklearn.linear_model import LogisticRegression as SkLR

    rng = np.random.default_rng(0)
    n = 2000
    income = rng.normal(50_000, 15_000, n)
    age = rng.uniform(18, 80, n)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(income - 50_000) / 20_000 + (age - 50) / 30))).astype(int)
    table = pa.table({"income": income, "age": age, "y": y})
    model = oddsline.train(table, target="y", positive=1, C=math.inf, test_size=0)
    reference = SkLR(C=np.inf, tol=1e-10, max_iter=10_000).fit(np.column_stack([income, age]), y)
    raw = model.coefficients(original_units=True)
    np.testing.assert_allclose([raw["income"], raw["age"]], reference.coef_[0], rtol=1e-6)
    assert model.coefficients()["income"] == pytest.approx(raw["income"] * model.features.columns[0].scale)


def test_target_encoded_training_uses_out_of_fold_values(telco_table):
    spec = FeatureSpec.from_dict(
        {"columns": [{"name": "tenure", "kind": "target"}, {"name": "contract", "kind": "categorical"}]}
    )
    model = oddsline.train(telco_table, target="churn", positive="Yes", spec=spec)
    assert model.design_names[0] == "tenure:target_logodds"
    assert "evaluation" in model.info and model.info["evaluation"]["roc_auc"] > 0.7


def test_batch_scoring_of_a_file_equals_scoring_it_whole(telco_model, telco_table, tmp_path):
    import pyarrow.parquet as pq

    from oddsline.batch import score_file

    source = tmp_path / "rows.parquet"
    pq.write_table(telco_table, source, row_group_size=1000)
    rows, report = score_file(telco_model, source, tmp_path / "scores.parquet", batch_rows=777)
    assert rows == telco_table.num_rows
    scored = pq.read_table(tmp_path / "scores.parquet")
    np.testing.assert_array_equal(scored.column("probability").to_numpy(), telco_model.predict_proba(telco_table)[:, 1])
    whole = oddsline.features.TransformReport()
    # The target is a column the model knows and does not use: batch scoring does not count it unexpected.
    telco_model.predict_proba(telco_table.drop(["churn"]), whole)
    assert report.to_dict() == whole.to_dict()
    csv_rows, _ = score_file(telco_model, source, tmp_path / "scores.csv")
    assert csv_rows == rows
