"""The generated rules and dashboards proven against a live Prometheus, as an SRE would try them.

Real `oddsline serve` processes (two of them with `--workers 2`) are scraped every 0.5 s by a real
Prometheus that loads the rules `oddsline observe prometheus --speedup 30` generates (every window and
`for:` thirty times shorter, so an hour of burn is two minutes). Each server plays one scenario under
its own job, and traffic is driven at all of them at once:

- calm (2 workers): real rows of the training data, their true labels 7 s later, a refused row now
  and then. Nothing may fire. It also serves a second model, skewed, whose labels are all positive:
  its calibration and log-loss alerts must fire, on the same job, while calm's stay quiet;
- broken: every request times out (504, and slower than its 1 ms latency objective); its model file is
  replaced by garbage and SIGHUP'd, so the reload is rejected; no labels arrive;
- drifted (2 workers): rows with a tenure beyond training, an unseen internet service and tripled
  charges; it also serves bystander, fed normal rows, whose drift alerts must stay quiet;
- crowded: more concurrent large requests than its `--max-in-flight 1` admits (503);
- gone: stopped after its first scrapes.

Each alert that should fire is waited for; every alert that fired at any moment is then checked
against what the scenario allows; and every dashboard panel's query is run against Prometheus in the
scenario that feeds it and must return data. About two minutes in all. Skipped, saying why, when the
prometheus server is not installed."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from prometheus_server import BINARY, SKIP_REASON, Prometheus

from oddsline.cli.main import main
from serve_process import spawn_server, wait_ready

pytestmark = pytest.mark.skipif(BINARY is None, reason=SKIP_REASON)

SPEEDUP = "30"
LABEL_LAG_HOURS = "0.05"  # 3 minutes without a label alert; 6 s at SPEEDUP
LABEL_DELAY = 7.0  # seconds between a prediction and its label: past the prediction log's 5 s wait
JOBS = {"calm": "calm", "skewed": "calm", "broken": "broken", "drifted": "drifted", "bystander": "drifted"}
JOBS |= {"crowded": "crowded", "gone": "gone"}

_BURNS = {"OddslineErrorBudgetFastBurn", "OddslineErrorBudgetSlowBurn"}
_SLOW = {"OddslineLatencyFastBurn", "OddslineLatencySlowBurn"}
_DRIFT = {"OddslineScoreDrift", "OddslineInputDrift", "OddslineInputAnomalies"}
_LABELLED = {"OddslineCalibrationGap", "OddslineLogLossDegraded"}
_LAG = "OddslineLabelLag"
# What each model's alerts must do: fire (at some point) and, beyond those, what else may fire.
MUST_FIRE: dict[str, set[str]] = {
    "calm": set(),
    "skewed": _LABELLED,
    "broken": _BURNS | _SLOW | {"OddslineReloadRejected", _LAG},
    "drifted": _DRIFT | {_LAG},
    "bystander": {_LAG},
    "crowded": {"OddslineOverload", _LAG},
    "gone": {"OddslineModelNotServed", "OddslineTargetDown"},
}
# Refused requests are unavailability (503 is a 5xx): crowded's error budget burns too, and a 2-core
# machine busy with all of this may answer some of its requests past its latency objective.
MAY_ALSO_FIRE: dict[str, set[str]] = {"crowded": _BURNS | _SLOW, "gone": {_LAG}}
# Dashboard panels fed by another scenario than calm's (model whose dashboard is read).
FED_BY = {
    "Input drift (PSI) by column": "drifted",
    "Drifted columns": "drifted",
    "Input events (imputed, unseen, out of range) by column": "drifted",
    "In flight / refused at the limit": "crowded",
}


def _drifted(row: dict[str, Any]) -> dict[str, Any]:
    """A row as a broken upstream sends it: tenure in days instead of months (beyond anything seen in
    training), a service level training never saw, charges in another currency."""
    charges = row["total_charges"]
    return row | {
        "tenure": row["tenure"] * 30 + 100,
        "internet_service": "Satellite",
        "monthly_charges": row["monthly_charges"] * 3,
        "total_charges": None if charges is None else charges * 3,
    }


class Traffic:
    """Request loops, one thread each, until stopped; each loop gets the stop event."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def run(self, loop: Callable[[httpx.Client], None]) -> None:
        def guarded() -> None:
            try:
                with httpx.Client(timeout=30) as client:
                    loop(client)
            except BaseException as exc:  # reported by the test, not lost in a thread
                if not self.stopped.is_set():
                    self.errors.append(exc)

        thread = threading.Thread(target=guarded, daemon=True)
        thread.start()
        self.threads.append(thread)

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(30)


def _post(client: httpx.Client, url: str, body: bytes) -> httpx.Response:
    return client.post(url, content=body, headers={"content-type": "application/json"})


def _scored_with_labels(
    base: str, name: str, rows: list[dict[str, Any]], truth: list[str], traffic: Traffic
) -> Callable[[httpx.Client], None]:
    """Twenty rows every 0.25 s to ``name``; each row's label (``truth``) posted LABEL_DELAY s later."""

    def loop(client: httpx.Client) -> None:
        waiting: list[tuple[float, list[dict[str, str]]]] = []
        start = 0
        while not traffic.stopped.wait(0.25):
            batch = slice(start % (len(rows) - 20), start % (len(rows) - 20) + 20)
            start += 20
            answer = client.post(f"{base}/v1/models/{name}/predict", json={"rows": rows[batch]})
            assert answer.status_code == 200, answer.text
            request_id = answer.json()["request_id"]
            labels = [{"id": f"{request_id}:{i}", "label": label} for i, label in enumerate(truth[batch])]
            waiting.append((time.time() + LABEL_DELAY, labels))
            while waiting and waiting[0][0] <= time.time():
                posted = client.post(f"{base}/v1/labels", json={"labels": waiting.pop(0)[1]}).json()
                assert posted["matched"] == 20, posted
            if start % 400 == 0:  # now and then a row without tenure: a 422 the validation panel counts
                refused = client.post(
                    f"{base}/v1/models/{name}/predict", json={k: v for k, v in rows[0].items() if k != "tenure"}
                )
                assert refused.status_code == 422

    return loop


@pytest.fixture(scope="module")
def stage(tmp_path_factory, telco_model, telco_table) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("observability")
    for name in JOBS:
        telco_model.save(folder / f"{name}.odl")
    rule_files = []
    for name, job in JOBS.items():
        latency = "0.001" if name == "broken" else "1"
        out = folder / f"{name}-rules.yml"
        options = ["--job", job, "--speedup", SPEEDUP, "--label-lag-hours", LABEL_LAG_HOURS, "--latency", latency]
        assert main(["observe", "prometheus", "--model", str(folder / f"{name}.odl"), *options, "--out", str(out)]) == 0
        rule_files.append(out)
    for name in ("calm", "drifted", "crowded"):
        assert main(["observe", "grafana", "--model", str(folder / f"{name}.odl"), "--out-dir", str(folder)]) == 0
    quiet = ["--prediction-log", "none", "--labels", "none"]
    served = {name: str(folder / f"{name}.odl") for name in JOBS}
    logged = ["--prediction-log", str(folder / "log"), "--labels", str(folder / "labels")]
    two = ["--workers", "2", "--drift-seconds", "1"]
    servers = {
        "calm": spawn_server([served["calm"], served["skewed"], *two, *logged]),
        "broken": spawn_server([served["broken"], "--request-timeout", "0.001", *quiet]),
        "drifted": spawn_server([served["drifted"], served["bystander"], *two, *quiet]),
        "crowded": spawn_server([served["crowded"], "--max-in-flight", "1", *quiet]),
        "gone": spawn_server([served["gone"], *quiet]),
    }
    prometheus = Prometheus(folder, {job: base for job, (_, base) in servers.items()}, rule_files)
    traffic = Traffic()
    try:
        for process, base in servers.values():
            wait_ready(process, base)
        prometheus.start()
        # Prometheus evaluates rules at once but scrapes its first targets only after its discovery's
        # 5 s batching: at 30x speed, OddslineModelNotServed (2 minutes, here 4 s) fires for that blind
        # start. Real time has no such moment; the scenarios start once every target has been scraped.
        prometheus.wait_scraped(set(JOBS.values()))
        time.sleep(2)
        started = time.time()
        _drive(servers, folder, telco_table, traffic)
        yield {"prometheus": prometheus, "servers": servers, "started": started, "folder": folder, "traffic": traffic}
    finally:
        traffic.stop()
        prometheus.stop()
        for process, _ in servers.values():
            if process.poll() is None:
                process.terminate()
        for process, _ in servers.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _drive(servers: dict[str, Any], folder: Path, table: Any, traffic: Traffic) -> None:
    truth = table.column("churn").to_pylist()
    rows = table.drop(["churn"]).to_pylist()
    calm = servers["calm"][1]
    traffic.run(_scored_with_labels(calm, "calm", rows, truth, traffic))
    traffic.run(_scored_with_labels(calm, "skewed", rows, ["Yes"] * len(rows), traffic))

    slow_body = json.dumps({"rows": rows[:500]}).encode()

    def broken(client: httpx.Client) -> None:
        while not traffic.stopped.wait(0.2):
            answer = _post(client, f"{servers['broken'][1]}/v1/models/broken/predict", slow_body)
            assert answer.status_code == 504, answer.text

    drifted_body = json.dumps({"rows": [_drifted(r) for r in rows[:300]]}).encode()
    normal_body = json.dumps({"rows": rows[300:600]}).encode()

    def drifted(client: httpx.Client) -> None:
        base = servers["drifted"][1]
        while not traffic.stopped.wait(0.3):
            assert _post(client, f"{base}/v1/models/drifted/predict", drifted_body).status_code == 200
            assert _post(client, f"{base}/v1/models/bystander/predict", normal_body).status_code == 200

    crowd_body = json.dumps({"rows": rows[:1000]}).encode()

    def crowded(client: httpx.Client) -> None:
        while not traffic.stopped.is_set():
            answer = _post(client, f"{servers['crowded'][1]}/v1/models/crowded/predict", crowd_body)
            assert answer.status_code in (200, 503), answer.text
            if answer.status_code == 503:
                traffic.stopped.wait(0.1)  # a client honouring Retry-After would wait longer

    traffic.run(broken)
    traffic.run(drifted)
    for _ in range(3):
        traffic.run(crowded)
    # The scenarios that change once: a reload of a file that is no model, and a server stopped after
    # Prometheus has seen it serve.
    time.sleep(5)
    (folder / "broken.odl").write_bytes(b"not a model file")
    servers["broken"][0].send_signal(signal.SIGHUP)
    servers["gone"][0].terminate()


def _firing_by_model(prometheus: Prometheus) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {name: set() for name in JOBS}
    for alert, model in prometheus.alerts("firing"):
        out.setdefault(model, set()).add(alert)
    return out


def test_each_scenario_fires_its_alerts_and_no_other(stage) -> None:
    prometheus: Prometheus = stage["prometheus"]
    traffic: Traffic = stage["traffic"]
    seen: dict[str, set[str]] = {name: set() for name in JOBS}
    first: dict[tuple[str, str], int] = {}  # when each alert was first seen firing (s after the start)
    deadline = time.time() + 240
    while time.time() < deadline:
        for model, alerts in _firing_by_model(prometheus).items():
            seen.setdefault(model, set()).update(alerts)
            for alert in alerts:
                first.setdefault((model, alert), round(time.time() - stage["started"]))
        assert not traffic.errors, traffic.errors
        if all(MUST_FIRE[m] <= seen[m] for m in MUST_FIRE):
            break
        time.sleep(1)
    window = f"{math.ceil(time.time() - stage['started'])}s"
    lowest = {s["metric"]["job"]: float(s["value"][1]) for s in prometheus.query(f"min_over_time(up[{window}])")}
    missing = {m: MUST_FIRE[m] - seen[m] for m in MUST_FIRE if MUST_FIRE[m] - seen[m]}
    assert not missing, f"never fired: {missing}; fired (s after the start): {first}; lowest up: {lowest}"
    fired: dict[str, set[str]] = {name: set() for name in JOBS}
    for alert, model in prometheus.ever_fired(time.time() - stage["started"]):
        fired.setdefault(model, set()).add(alert)
    unexpected = {
        m: fired[m] - MUST_FIRE.get(m, set()) - MAY_ALSO_FIRE.get(m, set())
        for m in fired
        if fired[m] - MUST_FIRE.get(m, set()) - MAY_ALSO_FIRE.get(m, set())
    }
    assert not unexpected, f"fired without cause: {unexpected}; first seen (s after the start): {first}"
    # Every server but the stopped one answered every scrape, overloaded or not.
    assert lowest == {job: 0.0 if job == "gone" else 1.0 for job in set(JOBS.values())}


def _panels(folder: Path, model: str) -> Iterator[tuple[str, str, str]]:
    for audience in ("executive", "oncall", "debug"):
        board = json.loads((folder / f"{model}-{audience}.json").read_text())
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                yield f"{audience}: variable {variable['name']}", variable["query"]["query"], audience
        for panel in board["panels"]:
            for target in panel["targets"]:
                yield panel["title"], target["expr"], audience


def test_every_dashboard_query_returns_data_in_the_scenario_that_feeds_it(stage) -> None:
    prometheus: Prometheus = stage["prometheus"]
    empty: list[str] = []
    checked = 0
    for model in ("calm", "drifted", "crowded"):
        for title, expr, audience in _panels(stage["folder"], model):
            if FED_BY.get(title, "calm") != model:
                continue
            query = expr.replace("$job", model).replace("$instance", ".*")
            if query.startswith("label_values("):  # Grafana's variable query: the series it lists labels of
                query = query[len("label_values(") :].rsplit(",", 1)[0]
            values = prometheus.values(query)
            checked += 1
            if not values or not all(math.isfinite(v) for v in values):
                empty.append(f"{audience} / {title}: {query} -> {values}")
    assert checked >= 30
    assert not empty, "panels without data:\n" + "\n".join(empty)


def test_the_overloaded_server_still_answers_its_scrapes_and_health(stage) -> None:
    """/metrics and the liveness probe bypass admission: a server refusing work stays observable."""
    base = stage["servers"]["crowded"][1]
    assert stage["prometheus"].values('rate(oddsline_rejected_overload_total{job="crowded"}[5s])')[0] > 0
    for _ in range(10):
        assert httpx.get(f"{base}/metrics", timeout=5).status_code == 200
        assert httpx.get(f"{base}/v2/health/live", timeout=5).status_code == 200
