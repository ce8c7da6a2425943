"""Unpenalised fits with factors against R's glm, and HC0-HC3 against R's sandwich::vcovHC.

R (Debian's r-base-core with r-cran-sandwich; .ci/run installs them) fits the same complete rows with
character columns as factors (treatment coding, first level in C-locale order as reference; aliased
terms NA). oddsline trains through the command (`--C inf --test-size 0`) and reports in original units
(`inspect --units original`), so every coefficient is comparable one to one: log-likelihood, fitted
probabilities, coefficients, model-based and HC0-HC3 standard errors, and which terms are NA.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

import oddsline

from .conftest import run_cli

pd = pytest.importorskip("pandas")

R_SCRIPT = r"""
invisible(Sys.setlocale("LC_COLLATE", "C"))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE, check.names = FALSE)
d$y <- as.numeric(as.character(d[[args[2]]]) == args[3])
d[[args[2]]] <- NULL
m <- glm(y ~ ., family = binomial, data = d, control = glm.control(epsilon = 1e-12, maxit = 100))
library(sandwich)
b <- coef(m)
ok <- !is.na(b)
se <- rep(NA, length(b)); se[ok] <- sqrt(diag(vcov(m, complete = FALSE)))
hc <- lapply(c("HC0", "HC1", "HC2", "HC3"), function(t) { s <- rep(NA, length(b)); s[ok] <- sqrt(diag(vcovHC(m, type = t))); s })
cat(sprintf('{"names": [%s], "coef": [%s], "se": [%s], "HC0": [%s], "HC1": [%s], "HC2": [%s], "HC3": [%s], "loglik": %.17g, "fitted": [%s]}',
  paste0('"', names(b), '"', collapse = ","),
  paste(ifelse(ok, sprintf("%.17g", b), "null"), collapse = ","),
  paste(ifelse(ok, sprintf("%.17g", se), "null"), collapse = ","),
  paste(ifelse(ok, sprintf("%.17g", hc[[1]]), "null"), collapse = ","),
  paste(ifelse(ok, sprintf("%.17g", hc[[2]]), "null"), collapse = ","),
  paste(ifelse(ok, sprintf("%.17g", hc[[3]]), "null"), collapse = ","),
  paste(ifelse(ok, sprintf("%.17g", hc[[4]]), "null"), collapse = ","),
  as.numeric(logLik(m)), paste(sprintf("%.17g", fitted(m)), collapse = ",")))
"""

# Not telco: there R's glm itself fails (its QR misses that `multiple_lines=No phone service` is the intercept
# minus `phone_service`, IRLS does not converge and coefficients reach 3e13), where oddsline reports the
# term aliased; telco is checked against statsmodels' likelihood and probabilities instead.
CASES = [
    ("credit_scoring", []),
    ("phone_churn", ["--ignore", "state"]),
    ("islr_default", []),
    ("fair", ["--ignore", "affairs"]),
]


def _have_r() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", "library(sandwich)"], capture_output=True, timeout=60)
    return probe.returncode == 0


pytestmark = pytest.mark.skipif(
    not _have_r(), reason="R with the sandwich package is not installed (Debian: r-base-core r-cran-sandwich)"
)


def _r_name(model, name: str) -> str:
    """R's name of one of our terms: 'Home=owner' -> 'Homeowner', a yes/no column -> 'Recordsyes'."""
    if name == "intercept":
        return "(Intercept)"
    if "=" in name:
        column, level = name.split("=", 1)
        return f"{column}{level}"
    return name


@pytest.mark.parametrize(("name", "extra"), CASES)
def test_unpenalised_fit_matches_r_glm_and_sandwich(real_datasets, tmp_path, name, extra):
    data = real_datasets[name]
    frame = pd.read_csv(data.path).dropna()
    for column in extra[1::2]:
        frame = frame.drop(columns=[column])
    path = tmp_path / f"{name}.csv"
    frame.to_csv(path, index=False)
    model_path = tmp_path / "m.odl"
    done = run_cli(
        "train", str(path), "--target", data.target, "--C", "inf", "--test-size", "0", "--out", str(model_path)
    )
    assert done.returncode == 0, done.stderr
    model = oddsline.load(model_path)
    positive = str(model.target.positive)
    script = tmp_path / "fit.R"
    script.write_text(R_SCRIPT)
    r = subprocess.run(
        ["Rscript", str(script), str(path), data.target, positive], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, r.stderr
    reference = json.loads(r.stdout)
    r_terms = dict(zip(reference["names"], range(len(reference["names"])), strict=True))

    table = oddsline.read_table(path)
    assert model.inference().llf == pytest.approx(reference["loglik"], rel=1e-9)
    np.testing.assert_allclose(model.predict_proba(table, raw=True)[:, 1], reference["fitted"], atol=1e-7)

    ours = model.inference(units="original")
    inspected = json.loads(run_cli("inspect", str(model_path), "--units", "original", "--json").stdout)
    assert [row["name"] for row in inspected["inference"]["coefficients"]] == ours.param_names
    matched = 0
    for i, term in enumerate(ours.param_names):
        if term in ours.reference_levels:
            continue  # treatment coding: R has no term for the reference level either
        column = term.split("=", 1)[0]
        kind = next((c.kind for c in model.features.columns if column in c.sources), None)
        r_name = _r_name(model, term)
        if kind == "boolean":  # R names the non-reference level of a two-level factor
            r_name = next(n for n in r_terms if n.startswith(term) and n != term)
        j = r_terms[r_name]
        if reference["coef"][j] is None:
            assert term in ours.aliased, f"R has NA for {term}, oddsline estimated it"
            continue
        assert term not in ours.aliased, f"oddsline aliased {term}, R estimated it"
        assert ours.params[i] == pytest.approx(reference["coef"][j], rel=1e-6, abs=1e-9), term
        assert ours.bse[i] == pytest.approx(reference["se"][j], rel=1e-6), term
        matched += 1
    assert matched == sum(c is not None for c in reference["coef"])

    for cov_type in ("HC0", "HC1", "HC2", "HC3"):
        robust = model.inference(data=table, cov_type=cov_type, units="original")
        for i, term in enumerate(robust.param_names):
            if term in robust.aliased:
                continue
            r_name = _r_name(model, term)
            if r_name not in r_terms:
                r_name = next(n for n in r_terms if n.startswith(term) and n != term)
            assert robust.bse[i] == pytest.approx(reference[cov_type][r_terms[r_name]], rel=1e-5), (cov_type, term)
