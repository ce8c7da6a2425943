"""Unpenalised fits (`--C inf`, the statsmodels/R-equivalent fit) of real tables with categorical columns,
through the command, against statsmodels' formula Logit on the same rows.

Log-likelihood and fitted probabilities must agree to 1e-6 whatever the parametrisation. Where the
design has no exact dependency beyond the one-hot blocks, the level coefficients and their standard
errors must agree too: oddsline's reference level (first in sorted order) is patsy's treatment
reference. Numeric coefficients differ by the standardisation, so they are compared per raw unit.
"""

from __future__ import annotations

import numpy as np
import pytest

import oddsline

from .conftest import run_cli

pd = pytest.importorskip("pandas")
smf = pytest.importorskip("statsmodels.formula.api")

# (dataset, CLI arguments beyond --C inf, compare coefficients level by level)
CASES = [
    ("telco", [], False),  # 7 aliased "No internet service" levels: statsmodels' pinv picks another solution
    ("credit_scoring", [], True),
    ("phone_churn", ["--ignore", "state"], True),  # 51 levels: target-encoded, which statsmodels has not
    ("islr_default", [], True),
    ("fair", ["--ignore", "affairs"], True),
    ("anes96", [], True),
    ("spector", [], True),
]


def _complete_rows(path, folder, name):
    """The rows without any missing value (statsmodels drops them; oddsline would impute them)."""
    frame = pd.read_parquet(path) if str(path).endswith(".parquet") else pd.read_csv(path)
    frame = frame.dropna()
    out = folder / f"{name}_complete.csv"
    frame.to_csv(out, index=False)
    return out, frame


@pytest.mark.parametrize(("name", "extra", "coefficients"), CASES)
def test_unpenalised_fit_matches_statsmodels(real_datasets, tmp_path, name, extra, coefficients):
    data = real_datasets[name]
    path, frame = _complete_rows(data.path, tmp_path, name)
    model_path = tmp_path / "m.odl"
    done = run_cli(
        "train", str(path), "--target", data.target, "--C", "inf", "--test-size", "0", "--out", str(model_path), *extra
    )
    assert done.returncode == 0, done.stderr
    model = oddsline.load(model_path)
    result = model.inference()

    frame = frame.copy()
    frame["y"] = (frame[data.target].astype(str) == str(model.target.positive)).astype(float)
    if frame[data.target].dtype.kind == "f":
        frame["y"] = (frame[data.target] == float(model.target.positive)).astype(float)
    terms = []
    for column in model.features.columns:
        (source,) = column.sources
        is_text = frame[source].dtype == object
        terms.append(f"C(Q('{source}'))" if is_text or column.kind == "categorical" else f"Q('{source}')")
    reference = smf.logit(f"y ~ {' + '.join(terms)}", frame).fit(method="newton", disp=0, tol=1e-10, maxiter=200)

    assert result.llf == pytest.approx(reference.llf, rel=1e-8, abs=1e-6)
    ours = model.predict_proba(oddsline.read_table(path), raw=True)[:, 1]
    np.testing.assert_allclose(ours, reference.predict(frame), atol=1e-6)
    if not coefficients:
        return
    assert sorted(result.aliased) == sorted(result.reference_levels)  # nothing aliased beyond them
    table = dict(zip(result.param_names, zip(result.params, result.bse, strict=True), strict=True))
    for term, value in reference.params.items():
        if not term.startswith("C("):
            continue
        source = term.split("'")[1]
        level = term.split("[T.", 1)[1][:-1]
        if source in table:  # a yes/no column: one design column, 1 for the true spelling
            ours_value, ours_se = table[source]
            sign = 1.0 if level.lower() in ("yes", "y", "true", "t", "1") else -1.0
        else:
            (ours_value, ours_se), sign = table[f"{source}={_spelling(frame[source], level)}"], 1.0
        assert sign * ours_value == pytest.approx(value, abs=1e-6), term
        assert ours_se == pytest.approx(reference.bse[term], rel=1e-5), term


def _spelling(column, level):
    """How oddsline spells a level that pandas read as a number (3.0 -> "3", as Arrow casts)."""
    if column.dtype.kind in "if":
        number = float(level)
        return str(int(number)) if number.is_integer() else level
    return level
