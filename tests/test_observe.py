"""Generated observability: the rules pass the real `promtool check rules` and `promtool test rules`
with synthetic series that must and must not fire; the dashboards are valid Grafana JSON; every metric
the rules and dashboards read is exported by the server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
import yaml

from oddsline.monitor.observe import VALUE, grafana_dashboards, metric_names, prometheus_rules

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not found (Debian package prometheus; .ci/install-system-packages installs it)"
)
PREDICT = 'oddsline_requests_total{model="churn",route="/v1/models/{name}/predict",status="%s"}'
BUCKET = 'oddsline_request_duration_seconds_bucket{model="churn",route="/v1/models/{name}/predict",le="%s"}'
COUNT = 'oddsline_request_duration_seconds_count{model="churn",route="/v1/models/{name}/predict"}'


@pytest.fixture(scope="module")
def rules(telco_model):
    return prometheus_rules(telco_model, "churn")


def _alert(rules, name):
    return next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == name)


def _expect(rules, name, value=None, **labels):
    """The alert as promtool renders it; ``value``: the measured value its description shows."""
    rule = _alert(rules, name)
    shown = "" if value is None else f"{value:.3g}"  # Go's %.3g, as Prometheus renders it
    annotations = {}
    for key, text in rule["annotations"].items():
        for label, value in labels.items():
            text = text.replace("{{ $labels." + label + " }}", value)
        annotations[key] = text.replace(VALUE, shown)
    return {"exp_labels": {**rule["labels"], **labels}, "exp_annotations": annotations}


def _case(series, checks):
    return {
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in series.items()],
        "alert_rule_test": [
            {"eval_time": at, "alertname": name, "exp_alerts": expected} for at, name, expected in checks
        ],
    }


@needs_promtool
def test_the_command_writes_rules_promtool_accepts(telco_model, tmp_path):
    model = telco_model.save(tmp_path / "churn.odl")
    out = tmp_path / "rules.yml"
    done = subprocess.run(
        [sys.executable, "-m", "oddsline", "observe", "prometheus", "--model", str(model), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    check = subprocess.run([PROMTOOL, "check", "rules", str(out)], capture_output=True, text=True)
    assert check.returncode == 0 and "SUCCESS" in check.stdout, check.stdout + check.stderr


@needs_promtool
def test_rules_fire_on_synthetic_series_that_must_and_stay_quiet_on_those_that_must_not(rules, tmp_path):
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    healthy = {
        PREDICT % "200": "0+600x480",
        PREDICT % "500": "0+0x480",
        BUCKET % "0.05": "0+600x480",
        COUNT: "0+600x480",
    }
    storm = {
        PREDICT % "200": "0+540x480",
        PREDICT % "500": "0+60x480",  # 10% errors: 100x a 99.9% budget
        BUCKET % "0.05": "0+300x480",  # half the answers slower than 50 ms
        COUNT: "0+600x480",
    }
    labelled = 'oddsline_labelled_%s{model="churn",version="1"}'
    miscalibrated = {
        labelled % "total": "0+10x500",
        labelled % "positive_total": "0+5x500",
        labelled % "probability_total": "0+3x500",  # predicted 0.3, observed 0.5
        labelled % "log_loss_total": "0+10x500",  # mean log loss 1.0
    }
    calibrated = {
        **miscalibrated,
        labelled % "probability_total": "0+5x500",
        labelled % "log_loss_total": "0+4x500",
    }
    tests = [
        _case(
            healthy,
            [
                (f"{m}m", name, [])
                for m in (70, 400)
                for name in (
                    "OddslineErrorBudgetFastBurn",
                    "OddslineErrorBudgetSlowBurn",
                    "OddslineLatencyFastBurn",
                    "OddslineLatencySlowBurn",
                )
            ],
        ),
        _case(
            storm,
            [
                ("70m", "OddslineErrorBudgetFastBurn", [_expect(rules, "OddslineErrorBudgetFastBurn", 0.1)]),
                ("70m", "OddslineLatencyFastBurn", [_expect(rules, "OddslineLatencyFastBurn", 0.5)]),
                ("400m", "OddslineErrorBudgetSlowBurn", [_expect(rules, "OddslineErrorBudgetSlowBurn", 0.1)]),
            ],
        ),
        _case(
            {'oddsline_score_psi{model="churn"}': "0.35x30", 'oddsline_score_psi{model="other"}': "0.35x30"},
            [
                ("5m", "OddslineScoreDrift", []),  # not for long enough yet
                ("15m", "OddslineScoreDrift", [_expect(rules, "OddslineScoreDrift", 0.35)]),
            ],
        ),
        _case({'oddsline_score_psi{model="churn"}': "0.1x30"}, [("15m", "OddslineScoreDrift", [])]),
        _case(
            {
                'oddsline_drift_detected{model="churn",column="contract"}': "1x60",
                'oddsline_drift_detected{model="churn",column="tenure"}': "0x60",
            },
            [("45m", "OddslineInputDrift", [_expect(rules, "OddslineInputDrift", column="contract")])],
        ),
        _case(
            {'oddsline_last_label_timestamp_seconds{model="churn"}': "0x3000"},
            [
                ("47h", "OddslineLabelLag", []),
                ("49h", "OddslineLabelLag", [_expect(rules, "OddslineLabelLag", 49 * 3600)]),
            ],
        ),
        _case({'oddsline_last_label_timestamp_seconds{model="churn"}': "0+60x3000"}, [("49h", "OddslineLabelLag", [])]),
        # Another model's labels flowing do not keep churn's clock fresh.
        _case(
            {
                'oddsline_last_label_timestamp_seconds{model="churn"}': "0x3000",
                'oddsline_last_label_timestamp_seconds{model="fraud"}': "0+60x3000",
            },
            [("49h", "OddslineLabelLag", [_expect(rules, "OddslineLabelLag", 49 * 3600)])],
        ),
        _case(
            miscalibrated,
            [
                ("7h", "OddslineCalibrationGap", [_expect(rules, "OddslineCalibrationGap", 0.2, model="churn")]),
                ("7h", "OddslineLogLossDegraded", [_expect(rules, "OddslineLogLossDegraded", 1.0, model="churn")]),
            ],
        ),
        _case(calibrated, [("7h", "OddslineCalibrationGap", []), ("7h", "OddslineLogLossDegraded", [])]),
        # Unseen levels in 10% of scored rows alert (by kind); out-of-range numbers in 1% do not.
        _case(
            {
                'oddsline_predictions_total{model="churn",version="1",decision="positive"}': "0+600x60",
                'oddsline_input_events_total{model="churn",event="unseen",column="contract"}': "0+60x60",
                'oddsline_input_events_total{model="churn",event="out_of_range",column="tenure"}': "0+6x60",
                'oddsline_input_events_total{model="other",event="unseen",column="contract"}': "0+600x60",
            },
            [
                ("5m", "OddslineInputAnomalies", []),
                (
                    "25m",
                    "OddslineInputAnomalies",
                    [_expect(rules, "OddslineInputAnomalies", 0.1, model="churn", event="unseen")],
                ),
            ],
        ),
        # Rows the prediction log dropped (a full disk) open a ticket; none dropped, none.
        _case(
            {'oddsline_prediction_log_rows_total{outcome="dropped"}': "0x10 200 400x20"},
            [
                ("5m", "OddslinePredictionLogDropping", []),
                ("12m", "OddslinePredictionLogDropping", [_expect(rules, "OddslinePredictionLogDropping", 400)]),
            ],
        ),
        # Refused requests in one minute (a 30 s burst) never page; refusals every minute for 5 do.
        _case(
            {"oddsline_rejected_overload_total": "0x5 50 50x20"},
            [("3m", "OddslineOverload", []), ("8m", "OddslineOverload", []), ("20m", "OddslineOverload", [])],
        ),
        _case(
            {"oddsline_rejected_overload_total": "0+50x20"},
            [("3m", "OddslineOverload", []), ("8m", "OddslineOverload", [_expect(rules, "OddslineOverload", 50 / 60)])],
        ),
    ]
    (tmp_path / "tests.yml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}, sort_keys=False)
    )
    done = subprocess.run([PROMTOOL, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_the_ratios_read_zero_on_an_idle_service_and_the_true_ratio_under_traffic(rules, tmp_path):
    """0/0 would be NaN: an idle service's availability panel read NaN (issue 20). Idle now reads 0
    errors and 0 slow; with traffic, the ratios are exactly the counted ones."""
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    idle = {PREDICT % "200": "0x60", PREDICT % "500": "0x60", BUCKET % "0.05": "0x60", COUNT: "0x60"}
    busy = {PREDICT % "200": "0+90x60", PREDICT % "500": "0+10x60", BUCKET % "0.05": "0+75x60", COUNT: "0+100x60"}

    def reads(series, errors, slow):
        return {
            "interval": "1m",
            "input_series": [{"series": k, "values": v} for k, v in series.items()],
            "promql_expr_test": [
                {
                    "expr": f"round(oddsline:scoring_{kind}:ratio_rate5m * 1e6) / 1e6",  # rates carry rounding
                    "eval_time": "30m",
                    "exp_samples": [{"labels": '{model="churn"}', "value": v}],
                }
                for kind, v in (("errors", errors), ("slow", slow))
            ],
        }

    tests = [reads(idle, 0, 0), reads(busy, 0.1, 0.25)]
    (tmp_path / "tests.yml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests}, sort_keys=False)
    )
    done = subprocess.run([PROMTOOL, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_two_models_rules_side_by_side_fire_only_on_their_own_job_and_on_a_vanished_server(telco_model, tmp_path):
    """Rules for churn (job churn-svc) and fraud (job fraud-svc) loaded together: an error storm on
    churn's servers pages churn only; churn's server disappearing (its series go stale) pages
    OddslineModelNotServed and OddslineTargetDown for churn, not fraud."""
    churn = prometheus_rules(telco_model, "churn", job="churn-svc")
    fraud = prometheus_rules(telco_model, "fraud", job="fraud-svc")
    (tmp_path / "churn.yml").write_text(yaml.safe_dump(churn, sort_keys=False))
    (tmp_path / "fraud.yml").write_text(yaml.safe_dump(fraud, sort_keys=False))
    on = {job: f',job="{job}"' for job in ("churn-svc", "fraud-svc")}

    def requests(job: str, errors: str) -> dict[str, str]:
        route = f'model="{job.removesuffix("-svc")}",route="/v1/models/{{name}}/predict"'
        return {
            f'oddsline_requests_total{{{route},status="200"{on[job]}}}': "0+540x100",
            f'oddsline_requests_total{{{route},status="500"{on[job]}}}': errors,
            f'oddsline_request_duration_seconds_bucket{{{route},le="0.05"{on[job]}}}': "0+600x100",
            f"oddsline_request_duration_seconds_count{{{route}{on[job]}}}": "0+600x100",
        }

    info = 'oddsline_model_info{model="%s",version="1",sha256="ab",job="%s",instance="%s:8000"}'
    series = {
        **requests("churn-svc", "0+60x100"),  # 10% errors on churn's servers
        **requests("fraud-svc", "0+0x100"),
        info % ("churn", "churn-svc", "a"): "1x30 stale",  # churn's server goes away at 30 min
        info % ("fraud", "fraud-svc", "b"): "1x100",
        'up{job="churn-svc",instance="a:8000"}': "1x30 0x70",
        'up{job="fraud-svc",instance="b:8000"}': "1x100",
    }
    burn = _expect(churn, "OddslineErrorBudgetFastBurn", 0.1, job="churn-svc")
    gone = _expect(churn, "OddslineModelNotServed", 1)
    down = _expect(churn, "OddslineTargetDown", 0, job="churn-svc", instance="a:8000")
    tests = [
        _case(
            series,
            [
                ("20m", "OddslineErrorBudgetFastBurn", [burn]),
                ("20m", "OddslineModelNotServed", []),
                ("20m", "OddslineTargetDown", []),
                ("40m", "OddslineModelNotServed", [gone]),
                ("40m", "OddslineTargetDown", [down]),
            ],
        )
    ]
    (tmp_path / "tests.yml").write_text(
        yaml.safe_dump(
            {"rule_files": ["churn.yml", "fraud.yml"], "evaluation_interval": "1m", "tests": tests}, sort_keys=False
        )
    )
    done = subprocess.run([PROMTOOL, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_two_models_of_one_server_burn_only_their_own_error_budget_without_a_job(telco_model, tmp_path):
    """churn and fraud served by one server (one job, no --job): churn's errors page churn only."""
    for name in ("churn", "fraud"):
        (tmp_path / f"{name}.yml").write_text(yaml.safe_dump(prometheus_rules(telco_model, name), sort_keys=False))
    series = {}
    for name, errors in (("churn", "0+60x100"), ("fraud", "0+0x100")):
        route = f'model="{name}",route="/v1/models/{{name}}/predict",job="svc",instance="a:8000"'
        series[f'oddsline_requests_total{{{route},status="200"}}'] = "0+540x100"
        series[f'oddsline_requests_total{{{route},status="500"}}'] = errors
        series[f'oddsline_request_duration_seconds_bucket{{{route},le="0.05"}}'] = "0+600x100"
        series[f"oddsline_request_duration_seconds_count{{{route}}}"] = "0+600x100"
    churn = prometheus_rules(telco_model, "churn")
    burn = _expect(churn, "OddslineErrorBudgetFastBurn", 0.1, job="svc")
    tests = [_case(series, [("20m", "OddslineErrorBudgetFastBurn", [burn])])]
    (tmp_path / "tests.yml").write_text(
        yaml.safe_dump(
            {"rule_files": ["churn.yml", "fraud.yml"], "evaluation_interval": "1m", "tests": tests}, sort_keys=False
        )
    )
    done = subprocess.run([PROMTOOL, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_job_name_that_would_break_the_selector_is_refused(telco_model):
    from oddsline import ParameterError

    with pytest.raises(ParameterError, match="--job"):
        prometheus_rules(telco_model, "churn", job='a"b')


def test_dashboards_are_grafana_json_with_a_query_in_every_panel(tmp_path, telco_model):
    model = telco_model.save(tmp_path / "churn.odl")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "oddsline",
            "observe",
            "grafana",
            "--model",
            str(model),
            "--out-dir",
            str(tmp_path / "d"),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in (tmp_path / "d").iterdir())
    assert files == ["churn-debug.json", "churn-executive.json", "churn-oncall.json"]
    for path in (tmp_path / "d").iterdir():
        board = json.loads(path.read_text())
        assert board["uid"] and board["schemaVersion"] >= 36 and board["panels"]
        assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
        for panel in board["panels"]:
            assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]


def test_the_server_exports_every_metric_the_rules_and_dashboards_read(telco_model, telco_table, tmp_path, rules):
    pytest.importorskip("fastapi", reason="the serve extra is not installed")
    from fastapi.testclient import TestClient
    from prometheus_client.parser import text_string_to_metric_families

    from oddsline.serve import Settings, create_app
    from oddsline.serve.models import load_served

    expressions = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    for board in grafana_dashboards("churn").values():
        expressions += [t["expr"] for p in board["panels"] for t in p["targets"]]
    used = metric_names(expressions)
    assert {"oddsline_score_psi", "oddsline_labelled_positive", "oddsline_request_duration_seconds"} <= used
    path = telco_model.save(tmp_path / "churn.odl")
    rows = telco_table.drop(["churn"]).slice(0, 30).to_pylist()
    settings = Settings(drift_seconds=0.2, drift_min_rows=20)
    with TestClient(create_app([load_served(str(path))], settings)) as client:
        scored = [client.post("/v1/models/churn/predict", json=r).json() for r in rows]
        client.post("/v1/labels", json={"labels": [{"id": s["request_id"], "label": "Yes"} for s in scored]})
        deadline = time.time() + 20
        while "oddsline_score_psi{" not in client.get("/metrics").text and time.time() < deadline:
            time.sleep(0.1)
        text = client.get("/metrics").text
    exported = {family.name for family in text_string_to_metric_families(text)}
    assert used <= exported, used - exported
    assert 'oddsline_score_psi{model="churn"}' in text and 'oddsline_drift_psi{column="contract",model="churn"}' in text


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"availability": 1.5}, "--availability is a share of requests strictly between 0 and 1"),
        ({"availability": 0.0}, "--availability is a share"),
        ({"latency_seconds": 0.07}, "--latency 0.07 is not a bound of the server's latency histogram"),
        ({"psi": 0.0}, "--psi must be a positive number"),
        ({"psi": float("inf")}, "--psi must be a positive number"),
        ({"label_lag_hours": float("inf")}, "--label-lag-hours must be a positive number"),
        ({"calibration_gap": 5.0}, "--calibration-gap is a difference of rates, strictly between 0 and 1"),
        ({"input_anomaly_rate": 2.0}, "--input-anomaly-rate is a share of scored rows"),
        ({"performance_window": "foo"}, "--window"),
        ({"performance_window": "1ms"}, "--window must be at least 1m"),
        ({"name": 'a"b'}, "--name must be a model name without quotes"),
    ],
)
def test_objectives_no_rule_could_use_are_refused(telco_model, options, message):
    from oddsline import ParameterError
    from oddsline.monitor.observe import LATENCY_BUCKETS, prometheus_rules

    with pytest.raises(ParameterError, match=message):
        prometheus_rules(telco_model, options.pop("name", "churn"), **options)
    for bound in LATENCY_BUCKETS:  # every bound of the server's histogram is a valid objective
        assert prometheus_rules(telco_model, "churn", latency_seconds=bound)["groups"]


def test_the_dashboards_read_labelled_performance_over_their_own_window(telco_model):
    """Not from series recorded by rules that may have been generated with another --window."""
    from oddsline import ParameterError

    queries = [
        target["expr"]
        for board in grafana_dashboards("churn", "90m").values()
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]
    labelled = [q for q in queries if "oddsline_labelled" in q]
    assert len(labelled) == 2 and all("[1h30m]" in q for q in labelled), labelled
    assert not [q for q in queries if "oddsline:labelled" in q]
    with pytest.raises(ParameterError, match="--window"):
        grafana_dashboards("churn", "foo")


def test_every_alert_has_a_summary_a_description_and_a_runbook_link(telco_model):
    rules = prometheus_rules(telco_model, "churn", job="churn-svc")
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    assert len(alerts) == 15
    for alert in alerts:
        annotations = alert["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}, alert["alert"]
        assert annotations["runbook_url"] == f"docs/runbooks.md#{alert['alert'].lower()}"
    with_value = [a["alert"] for a in alerts if VALUE in a["annotations"]["description"]]
    # All but InputDrift, whose value is per column on its own metric, and ModelNotServed, whose value
    # (absent()'s 1) says nothing.
    assert len(with_value) == 13
    own = prometheus_rules(telco_model, "churn", runbook_url="https://wiki.example/oddsline")
    assert all(
        r["annotations"]["runbook_url"].startswith("https://wiki.example/oddsline#")
        for g in own["groups"]
        for r in g["rules"]
        if "alert" in r
    )


def test_a_latency_objective_selects_the_bucket_as_the_server_writes_it(telco_model):
    """prometheus_client writes the bound 1 as le="1.0": a rule selecting le="1" matched nothing, and
    its latency alerts could never fire (found by tests/observability against a live server)."""
    from prometheus_client.utils import floatToGoString

    from oddsline.monitor.observe import LATENCY_BUCKETS

    for bound in LATENCY_BUCKETS:
        records = prometheus_rules(telco_model, "churn", latency_seconds=bound)["groups"][0]["rules"]
        slow = [r["expr"] for r in records if r["record"].startswith("oddsline:scoring_slow")]
        assert slow and all(f'le="{floatToGoString(bound)}"' in expr for expr in slow)
