"""The gate and `oddsline retrain`: champion recipe refitted on new rows, challenger registered, gate
recorded, promotion only on pass — end to end on a real registry."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pytest

import oddsline
from oddsline.registry import Registry
from oddsline.registry.gate import GateLimits, run_gate
from oddsline.retrain import retrain

LENIENT = GateLimits(max_logloss_increase=1.0, min_auc_delta=-1.0, max_ece=1.0)
IMPOSSIBLE = GateLimits(max_logloss_increase=-1.0)


def test_the_gate_passes_a_model_against_itself_and_fails_a_worse_one(telco_table, telco_model):
    holdout = telco_table.slice(5000)
    same = run_gate(telco_model, telco_model, holdout, GateLimits(max_ece=1.0))
    assert same["passed"] and same["checks"][1]["value"] == 0.0
    timid = oddsline.train(telco_table.slice(0, 5000), target="churn", positive="Yes", C=1e-4)
    worse = run_gate(timid, telco_model, holdout)
    failed = {c["check"] for c in worse["checks"] if not c["ok"]}
    assert not worse["passed"] and "log_loss increase" in failed
    assert worse["challenger"]["log_loss"] > worse["champion"]["log_loss"]


@pytest.fixture
def registry_with_champion(telco_table, tmp_path, monkeypatch):
    monkeypatch.setenv("ODDSLINE_HOME", str(tmp_path / "home"))
    spec = oddsline.FeatureSpec.infer(telco_table, target="churn")
    first = oddsline.train(
        telco_table.slice(0, 3000), target="churn", positive="Yes", spec=spec, C=0.5, calibrate="platt", threshold="f1"
    )
    path = first.save(tmp_path / "v1.odl")
    with Registry() as registry:
        registry.register("churn", path)
        registry.promote("churn", 1, force=True, reason="first model")
    return telco_table.slice(3000)


def test_retrain_reuses_the_recipe_records_the_gate_and_promotes_on_pass(registry_with_champion):
    with Registry() as registry:
        outcome = retrain(registry, "churn", registry_with_champion, limits=LENIENT)
        assert outcome["promoted"] and outcome["challenger"] == 2 and outcome["spec_reused"]
        assert registry.resolve("churn@champion") == ("churn", 2)
        assert registry.resolve("churn@challenger") == ("churn", 2)
        challenger, first = registry.load("churn@2"), registry.load("churn@1")
        for key in ("C", "calibrate", "threshold_rule", "spec"):
            assert challenger.params[key] == first.params[key], key
        assert challenger.info["n_rows"] + outcome["gate_rows"] == registry_with_champion.num_rows
        assert any(entry["action"] == "gate" for entry in registry.audit_log("churn"))


def test_retrain_that_fails_the_gate_leaves_the_champion_and_exits_1(registry_with_champion, tmp_path):
    data = tmp_path / "new.parquet"
    import pyarrow.parquet as pq

    pq.write_table(registry_with_champion, data)
    done = subprocess.run(
        [sys.executable, "-m", "oddsline", "retrain", "--model", "churn", "--data", str(data),
         "--max-logloss-increase", "-1", "--json"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    outcome = json.loads(done.stdout)
    assert not outcome["promoted"] and not outcome["gate"]["passed"]
    with Registry() as registry:
        assert registry.resolve("churn@champion") == ("churn", 1)
        assert registry.resolve("churn@challenger") == ("churn", 2)
        with pytest.raises(oddsline.RegistryError, match="has not passed the gate"):
            registry.promote("churn", 2)


def test_validate_command_exit_codes_and_recorded_gate(registry_with_champion, tmp_path, telco_table):
    holdout = tmp_path / "holdout.parquet"
    import pyarrow.parquet as pq

    pq.write_table(registry_with_champion, holdout)
    with Registry() as registry:
        outcome = retrain(registry, "churn", registry_with_champion, limits=IMPOSSIBLE)
    assert not outcome["promoted"]

    def validate(*extra):
        return subprocess.run(
            [sys.executable, "-m", "oddsline", "validate", "--challenger", "churn@challenger", "--champion",
             "churn@champion", "--data", str(holdout), "--json", *extra],
            capture_output=True,
            text=True,
        )  # fmt: skip

    strict = validate("--max-logloss-increase", "-1")
    assert strict.returncode == 1 and not json.loads(strict.stdout)["passed"]
    lenient = validate("--max-logloss-increase", "1", "--min-auc-delta", "-1", "--max-ece", "1")
    assert lenient.returncode == 0 and json.loads(lenient.stdout)["passed"]
    with Registry() as registry:
        registry.promote("churn", 2)  # the last recorded gate passed
        assert registry.resolve("churn@champion") == ("churn", 2)


def test_retrain_needs_both_classes_for_the_gate(registry_with_champion):
    only_no = registry_with_champion.filter(pa.compute.equal(registry_with_champion.column("churn"), "No"))
    with Registry() as registry, pytest.raises(Exception, match="churn|class|gate"):
        retrain(registry, "churn", only_no)


def test_retrain_prints_the_gate_table_it_recorded(registry_with_champion, tmp_path):
    import pyarrow.parquet as pq

    data = tmp_path / "new.parquet"
    pq.write_table(registry_with_champion, data)
    done = subprocess.run(
        [sys.executable, "-m", "oddsline", "retrain", "--model", "churn", "--data", str(data),
         "--max-logloss-increase", "1", "--min-auc-delta", "-1", "--max-ece", "1"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["check", "value", "limit", "ok"])
    with Registry() as registry:
        gate = next(e for e in reversed(registry.audit_log("churn")) if e["action"] == "gate")["detail"]
    assert gate["champion_version"] == 1 and "compared with champion version 1" in done.stdout
    for line, check in zip(lines[header + 1 :], gate["report"]["checks"], strict=False):
        assert line.startswith(check["check"])
        value, limit, ok = line[len(check["check"]) :].split()
        assert (float(value), float(limit), ok) == (round(check["value"], 4), round(check["limit"], 4), "ok")
    assert lines[header + 1 + len(gate["report"]["checks"])] == "PASS"
    assert lines[-1] == "promoted to champion"


def test_a_gate_on_rows_of_one_class_fails_with_the_reason(telco_table, telco_model):
    only_no = telco_table.filter(pa.compute.equal(telco_table.column("churn"), "No"))
    report = run_gate(telco_model, telco_model, only_no, LENIENT)
    auc = next(c for c in report["checks"] if c["check"] == "roc_auc delta")
    assert not report["passed"] and auc["value"] is None and not auc["ok"]
    assert "roc_auc is undefined on these rows" in auc["reason"] and "both classes" in auc["reason"]
    assert report["challenger"]["roc_auc"] is None
    json.dumps(report, allow_nan=False)


def test_retrain_refuses_a_multinomial_champion_by_name(tmp_path, monkeypatch, telco_table):
    monkeypatch.setenv("ODDSLINE_HOME", str(tmp_path / "home"))
    table = telco_table
    multi = oddsline.train_multiclass(table, target="contract").save(tmp_path / "contract.odl")
    with Registry() as registry:
        registry.register("contract", multi)
        registry.set_alias("contract", "champion", 1)
        with pytest.raises(oddsline.RegistryError, match="multinomial_logistic_regression model; retrain and its gate"):
            retrain(registry, "contract", table)
