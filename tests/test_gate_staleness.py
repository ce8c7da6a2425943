"""A gate pass is a comparison with one champion version: once the champion moves, the pass no longer
allows a promotion (issue 17, item 6). In the library, through the command line, and on registries
whose gate entries were written before the champion was recorded."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow.parquet as pq
import pytest

from oddsline import RegistryError
from oddsline.registry import Registry
from oddsline.registry.gate_record import GateRecord, promotion_refusal
from test_cli import run

PASS_V1 = GateRecord(True, 1, "v1")


@pytest.mark.parametrize(
    ("record", "current", "refused"),
    [
        (None, 1, "never validated"),
        (None, None, "never validated"),  # a first model: the fix validates it without a champion
        (GateRecord(False, 1, "v1"), 1, "last validation failed against v1"),
        (PASS_V1, 1, None),
        (PASS_V1, 3, "passed the gate against v1, but churn@champion is now version 3"),
        (PASS_V1, None, "passed the gate against v1, but churn@champion is now not set"),
        (PASS_V1, 2, None),  # the alias already points at the version: nothing is replaced
        (GateRecord(True, None, "no champion"), None, None),
        (GateRecord(True, None, "no champion"), 1, "against no champion, but churn@champion is now version 1"),
        (GateRecord.from_detail({"passed": True, "report": {}}), 1, "an unrecorded champion"),
        (GateRecord.from_detail({"passed": True, "report": {}}), None, None),
    ],
)
def test_a_promotion_is_refused_unless_the_latest_pass_was_against_the_current_champion(record, current, refused):
    why = promotion_refusal("churn", 2, "champion", record, current)
    if refused is None:
        assert why is None
    else:
        assert why is not None and refused in why and "--force" in why
        against = "" if current is None else " --champion churn@champion"  # none to compare with yet
        assert f"oddsline validate --challenger churn@2{against} --data HOLDOUT" in why


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, telco_model):
    return telco_model.save(tmp_path_factory.mktemp("models") / "churn.odl")


def test_a_pass_against_an_old_champion_does_not_promote_over_a_newer_one(tmp_path, model_file):
    registry = Registry(home=tmp_path / "home")
    for _ in range(3):
        registry.register("churn", model_file)
    registry.promote("churn", 1, force=True, reason="first model")
    registry.record_gate("churn", 2, True, {"passed": True}, champion_version=1)
    registry.record_gate("churn", 3, True, {"passed": True}, champion_version=1)
    registry.promote("churn", 3)
    with pytest.raises(
        RegistryError, match=r"version 2 passed the gate against v1, but churn@champion is now version 3"
    ):
        registry.promote("churn", 2)
    assert registry.resolve("churn@champion") == ("churn", 3)
    registry.promote("churn", 2, force=True, reason="incident 42")
    assert registry.resolve("churn@champion") == ("churn", 2)
    last = registry.audit_log("churn")[-1]
    assert last["action"] == "set_alias" and last["reason"] == "FORCED: incident 42"
    assert last["detail"]["forced"] and last["detail"]["previous"] == 3 and "stale" in last["detail"]["refusal"]
    unforced = [e for e in registry.audit_log("churn") if e["action"] == "set_alias" and e["version"] == 3]
    assert len(unforced) == 1 and not unforced[0]["detail"]["forced"]


def test_a_later_failed_gate_withdraws_a_pass(tmp_path, model_file):
    registry = Registry(home=tmp_path / "home")
    registry.register("churn", model_file)
    registry.register("churn", model_file)
    registry.promote("churn", 1, force=True)
    registry.record_gate("churn", 2, True, {}, champion_version=1)
    registry.record_gate("churn", 2, False, {}, champion_version=1)
    with pytest.raises(RegistryError, match="last validation failed against v1"):
        registry.promote("churn", 2)
    with pytest.raises(RegistryError, match="no version 7"):
        registry.record_gate("churn", 2, True, {}, champion_version=7)


def test_registries_written_before_the_champion_was_recorded_still_open_and_ask_for_a_new_gate(tmp_path, model_file):
    from sqlalchemy import insert, update

    from oddsline.registry.schema import audit, versions

    registry = Registry(home=tmp_path / "home")
    registry.register("churn", model_file)
    registry.register("churn", model_file)
    with registry.engine.begin() as conn:  # what an older oddsline's record_gate wrote
        conn.execute(update(versions).where(versions.c.version == 2).values(gate_passed=True))
        conn.execute(
            insert(audit).values(
                at=dt.datetime.now(dt.UTC),
                actor="old",
                action="gate",
                name="churn",
                version=2,
                detail={"passed": True, "report": {"passed": True}},
                reason="",
            )
        )
    reopened = Registry(home=tmp_path / "home")
    assert reopened.versions("churn")[1]["gate"]["champion"].startswith("an unrecorded champion")
    reopened.promote("churn", 1, force=True)
    with pytest.raises(RegistryError, match="an unrecorded champion"):
        reopened.promote("churn", 2)


def test_staleness_through_the_command_line(tmp_path, model_file, telco_table, monkeypatch):
    monkeypatch.setenv("ODDSLINE_HOME", str(tmp_path / "home"))
    holdout = tmp_path / "holdout.parquet"
    pq.write_table(telco_table.slice(5000), holdout)
    for expected in ("1", "2", "3", "4"):
        assert run("registry", "register", "churn", str(model_file)).stdout.strip() == expected
    assert run("registry", "promote", "churn", "1", "--force").returncode == 0

    def validate(version: int) -> None:
        done = run(
            "validate", "--challenger", f"churn@{version}", "--champion", "churn@champion", "--data", str(holdout),
            "--max-ece", "1",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[0].split() == ["check", "value", "limit", "ok"]

    validate(2)
    validate(3)
    failed = run(
        "validate", "--challenger", "churn@4", "--champion", "churn@champion", "--data", str(holdout),
        "--max-logloss-increase", "-1",
    )  # fmt: skip
    assert failed.returncode == 1 and failed.stdout.strip().endswith("FAIL")
    assert run("registry", "promote", "churn", "3").returncode == 0

    listed = run("registry", "list", "churn").stdout.splitlines()
    gate_of = {int(line.split()[0]): line for line in listed[1:]}
    assert "passed vs v1 (stale)" in gate_of[2]
    assert "passed vs v1" in gate_of[3] and "stale" not in gate_of[3]
    assert "failed vs v1" in gate_of[4]
    assert "never validated" in gate_of[1]

    refused = run("registry", "promote", "churn", "2")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    for words in ("version 2", "against v1", "version 3", "oddsline validate", "--force"):
        assert words in refused.stderr, words
    forced = run("registry", "promote", "churn", "2", "--force", "--reason", "rollback drill")
    assert forced.returncode == 0, forced.stderr
    audit = json.loads(run("registry", "audit", "churn", "--json").stdout)
    assert audit[-1]["reason"] == "FORCED: rollback drill" and audit[-1]["detail"]["forced"]
    assert audit[-1]["detail"]["previous"] == 3 and audit[-1]["version"] == 2
    rows = json.loads(run("registry", "list", "churn", "--json").stdout)
    assert rows[1]["gate"] == {"passed": True, "champion_version": 1, "champion": "v1"}
