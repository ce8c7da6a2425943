"""Late labels: every label row accounted for (stored, refused, duplicated, matched, unknown, late),
joined to the real prediction log of a served model, the latest label winning; performance by window
equal to scikit-learn's metrics on the joined rows; the server's /v1/labels and its metrics."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pytest
from sklearn.metrics import log_loss, roc_auc_score

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
from fastapi.testclient import TestClient

from oddsline import SchemaError
from oddsline.monitor.labels import ingest_labels, labelled_predictions, windowed_performance
from oddsline.serve import Settings, create_app
from oddsline.serve.models import load_served


@pytest.fixture
def served(telco_model, telco_table, tmp_path):
    """40 one-row requests and one batch of 5, logged; returns (ids, true labels by id, folders)."""
    path = telco_model.save(tmp_path / "churn.odl")
    log, labels = tmp_path / "log", tmp_path / "labels"
    rows = telco_table.drop(["churn"]).slice(0, 45).to_pylist()
    truth = telco_table.column("churn").to_pylist()[:45]
    ids, label_of = [], {}
    with TestClient(create_app([load_served(str(path))], Settings(prediction_log=str(log)))) as client:
        for k in range(40):
            rid = client.post("/v1/models/churn/predict", json=rows[k]).json()["request_id"]
            ids.append(rid)
            label_of[rid] = truth[k]
        rid = client.post("/v1/models/churn/predict", json=rows[40:45]).json()["request_id"]
        for i in range(5):
            ids.append(f"{rid}:{i}")
            label_of[f"{rid}:{i}"] = truth[40 + i]
    return ids, label_of, log, labels, path


def test_every_label_row_is_accounted_for_and_the_latest_label_wins(served):
    ids, label_of, log, labels, _ = served
    now = dt.datetime.now(dt.UTC)
    records = [{"id": i, "label": label_of[i], "at": now} for i in ids[:35]]  # 30 single rows + 5 of the batch
    flipped = {i: ("No" if label_of[i] == "Yes" else "Yes") for i in ids[:3]}
    records += [{"id": i, "label": flipped[i], "at": now + dt.timedelta(hours=1)} for i in ids[:3]]  # duplicates
    records += [{"id": f"never-{k}", "label": "Yes", "at": now} for k in range(4)]  # unknown ids
    records += [
        {"id": ids[35 + k], "label": label_of[ids[35 + k]], "at": now + dt.timedelta(days=40)} for k in range(5)
    ]
    records += [{"id": ids[40], "label": None, "at": now}, {"id": None, "label": "No", "at": now}]  # refused
    table = pa.Table.from_pylist(records)
    report = ingest_labels(
        table, id_column="id", label_column="label", time_column="at", log_folder=log, labels_folder=labels
    )
    assert report == {
        "rows": 49,
        "stored": 47,
        "refused_missing_id_or_label": 2,
        "duplicated": 3,
        "matched": 40,
        "unknown": 4,
        "late": 5,
        "delay_seconds": report["delay_seconds"],
    }
    assert report["delay_seconds"]["max"] > 39 * 86400
    joined = labelled_predictions(log, labels)
    assert joined.num_rows == 40  # one row per labelled prediction, duplicates resolved
    got = dict(zip(joined.column("label_id").to_pylist(), joined.column("label").to_pylist(), strict=True))
    for i in ids[:3]:
        assert got[i] == flipped[i]
    # Ingesting the same file again duplicates every stored row and loses nothing.
    again = ingest_labels(
        table, id_column="id", label_column="label", time_column="at", log_folder=log, labels_folder=labels
    )
    assert again["duplicated"] == 47 and again["stored"] == 47
    with pytest.raises(SchemaError, match="--label column 'outcome'"):
        ingest_labels(table, id_column="id", label_column="outcome", log_folder=log, labels_folder=labels)


def test_an_unknown_label_is_matched_once_its_prediction_is_logged(served, telco_table):
    _, _, log, labels, path = served
    early = pa.Table.from_pylist([{"id": "ahead-of-its-prediction", "label": "Yes"}])
    assert (
        ingest_labels(early, id_column="id", label_column="label", log_folder=log, labels_folder=labels)["unknown"] == 1
    )
    row = telco_table.drop(["churn"]).slice(0, 1).to_pylist()[0]
    with TestClient(create_app([load_served(str(path))], Settings(prediction_log=str(log)))) as client:
        client.post("/v1/models/churn/predict", json=row, headers={"x-request-id": "ahead-of-its-prediction"})
    joined = labelled_predictions(log, labels)
    assert joined.column("label_id").to_pylist() == ["ahead-of-its-prediction"]
    assert joined.column("delay_seconds").to_pylist()[0] < 0  # labelled before it was predicted


def test_windowed_performance_equals_scikit_learn_on_the_joined_rows(served, telco_model):
    ids, label_of, log, labels, _ = served
    table = pa.Table.from_pylist([{"id": i, "label": label_of[i]} for i in ids])
    ingest_labels(table, id_column="id", label_column="label", log_folder=log, labels_folder=labels)
    joined = labelled_predictions(log, labels)
    (window,) = windowed_performance(joined, target=telco_model.target, threshold=telco_model.threshold)
    y = np.array([v == "Yes" for v in joined.column("label").to_pylist()], dtype=float)
    p = np.array(joined.column("probability").to_pylist())
    assert window["rows"] == 45 and window["positive_rate"] == pytest.approx(y.mean())
    assert window["log_loss"] == pytest.approx(log_loss(y, p), rel=1e-10)
    assert window["roc_auc"] == pytest.approx(roc_auc_score(y, p), rel=1e-10)
    hourly = windowed_performance(joined, target=telco_model.target, threshold=0.5, window=dt.timedelta(hours=1))
    assert sum(w["rows"] for w in hourly) == 45


def test_monitor_prints_the_performance_by_window_in_text_too(served, telco_model):
    """With --labels, only --json showed the performance; the text output left it out."""
    import subprocess
    import sys

    ids, label_of, log, labels, path = served
    table = pa.Table.from_pylist([{"id": i, "label": label_of[i]} for i in ids])
    ingest_labels(table, id_column="id", label_column="label", log_folder=log, labels_folder=labels)
    (window,) = windowed_performance(labelled_predictions(log, labels), target=telco_model.target, threshold=0.5)
    command = [sys.executable, "-m", "oddsline", "monitor", "--model", str(path), "--log", str(log)]
    done = subprocess.run([*command, "--labels", str(labels)], capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), done.stderr
    header = next(line for line in done.stdout.splitlines() if line.startswith("window start"))
    assert "log loss" in header and "AUC" in header
    row = done.stdout.splitlines()[done.stdout.splitlines().index(header) + 1]
    assert f" {window['rows']} " in row and f"{window['log_loss']:.4f}" in row and f"{window['roc_auc']:.4f}" in row


def test_the_server_joins_posted_labels_counts_them_and_stores_them(telco_model, telco_table, tmp_path):
    from oddsline.monitor.labels import read_labels

    path = telco_model.save(tmp_path / "churn.odl")
    rows = telco_table.drop(["churn"]).slice(0, 10).to_pylist()
    truth = telco_table.column("churn").to_pylist()[:10]
    settings = Settings(labels_folder=str(tmp_path / "labels"))
    with TestClient(create_app([load_served(str(path))], settings)) as client:
        scored = [client.post("/v1/models/churn/predict", json=r).json() for r in rows]
        body = {"labels": [{"id": s["request_id"], "label": t} for s, t in zip(scored, truth, strict=True)]}
        body["labels"].append({"id": "nobody", "label": "No"})
        answer = client.post("/v1/labels", json=body).json()
        assert answer == {
            "received": 11,
            "matched": 10,
            "unknown": 1,
            "invalid": 0,
            "repeated": 0,
            "pending": 0,
            "stored": True,
        }
        bad = client.post("/v1/labels", json={"labels": [{"id": "x"}]})
        assert bad.status_code == 422 and bad.json()["field"] == "labels"
        text = client.get("/metrics").text
    version = scored[0]["version"]
    assert f'oddsline_labelled_total{{model="churn",version="{version}"}} 10.0' in text
    positives = sum(t == "Yes" for t in truth)
    assert f'oddsline_labelled_positive_total{{model="churn",version="{version}"}} {float(positives)}' in text
    assert 'oddsline_labels_total{model="",outcome="unknown"} 1.0' in text
    assert read_labels(tmp_path / "labels").num_rows == 11


def test_a_label_posted_again_is_not_counted_again_and_an_early_time_is_no_negative_delay(
    telco_model, telco_table, tmp_path
):
    """A client that resends a batch of labels (a retry after a timeout) used to count each label again
    in the live calibration and log loss; a label time before its prediction made the delay negative."""
    path = telco_model.save(tmp_path / "churn.odl")
    rows = telco_table.drop(["churn"]).slice(0, 5).to_pylist()
    with TestClient(create_app([load_served(str(path))], Settings())) as client:
        ids = [client.post("/v1/models/churn/predict", json=r).json()["request_id"] for r in rows]
        body = {"labels": [{"id": i, "label": "Yes", "time": "2020-01-01T00:00:00Z"} for i in ids]}
        first = client.post("/v1/labels", json=body).json()
        again = client.post("/v1/labels", json=body).json()
        text = client.get("/metrics").text
    assert first["matched"] == 5 and first["repeated"] == 0
    assert again == {
        "received": 5,
        "matched": 0,
        "unknown": 0,
        "invalid": 0,
        "repeated": 5,
        "pending": 0,
        "stored": False,
    }
    assert re.search(r'oddsline_labelled_total\{model="churn",version="[^"]+"\} 5.0', text)
    assert 'oddsline_labels_total{model="churn",outcome="repeated"} 5.0' in text
    assert 'oddsline_label_delay_seconds_sum{model="churn"} 0.0' in text


def test_a_label_is_read_by_its_spelling_never_silently_negative(telco_model, telco_table, tmp_path):
    from oddsline.target import BinaryTarget

    yes_no = BinaryTarget("churn", "No", "Yes")
    for raw, expected in [("Yes", True), ("yes", True), (" YES ", True), ("1", True), (True, True), ("y", True)]:
        assert yes_no.label_of(raw) is expected, raw
    for raw, expected in [("No", False), ("no", False), ("0", False), (False, False), ("false", False)]:
        assert yes_no.label_of(raw) is expected, raw
    for raw in ("maybe", "", "2", None):
        assert yes_no.label_of(raw) is None, raw
    numeric = BinaryTarget("default", 0, 1)
    assert numeric.label_of(1) is True and numeric.label_of("0") is False and numeric.label_of("yes") is True
    words = BinaryTarget("kind", "ham", "spam")  # not a yes/no pair: only the classes' own spellings
    assert words.label_of("SPAM") is True and words.label_of("yes") is None and words.label_of("1") is None

    path = telco_model.save(tmp_path / "churn.odl")
    rows = telco_table.drop(["churn"]).slice(0, 4).to_pylist()
    with TestClient(create_app([load_served(str(path))], Settings())) as client:
        ids = [client.post("/v1/models/churn/predict", json=r).json()["request_id"] for r in rows]
        body = {"labels": [{"id": i, "label": t} for i, t in zip(ids, ["yes", "TRUE", "no", "perhaps"], strict=True)]}
        answer = client.post("/v1/labels", json=body).json()
        assert answer == {
            "received": 4,
            "matched": 3,
            "unknown": 0,
            "invalid": 1,
            "repeated": 0,
            "pending": 0,
            "stored": False,
        }
        metrics = client.get("/metrics").text
    assert 'oddsline_labels_total{model="churn",outcome="invalid"} 1.0' in metrics
    assert 'oddsline_labelled_positive_total{model="churn"' in metrics
    positives = [line for line in metrics.splitlines() if line.startswith("oddsline_labelled_positive_total{")]
    assert float(positives[0].split()[-1]) == 2.0  # yes and TRUE; no is a negative; perhaps is neither


def test_windowed_performance_reads_spellings_and_counts_labels_that_are_neither_class(telco_model):
    now = dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC)
    joined = pa.table(
        {
            "model": ["churn"] * 4,
            "version": ["1"] * 4,
            "time": pa.array([now] * 4, pa.timestamp("us", tz="UTC")),
            "probability": [0.8, 0.6, 0.3, 0.5],
            "label": ["yes", "Yes", "0", "perhaps"],
        }
    )
    (window,) = windowed_performance(joined, target=telco_model.target, threshold=0.5)
    assert window["rows"] == 3 and window["invalid_labels"] == 1
    assert window["positive_rate"] == pytest.approx(2 / 3)
    assert window["log_loss"] == pytest.approx(log_loss([1, 1, 0], [0.8, 0.6, 0.3]))


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ({"id": True, "label": "Yes"}, "id"),
        ({"id": {"a": 1}, "label": "Yes"}, "id"),
        ({"id": "x", "label": {}}, "label"),
        ({"id": "x", "label": ["Yes"]}, "label"),
        ({"id": "x", "label": "Yes", "time": 5}, "time"),
        ({"id": "x", "label": "Yes", "time": "yesterday"}, "time"),
    ],
)
def test_a_malformed_label_is_a_422_naming_its_field(telco_model, tmp_path, label, field):
    path = telco_model.save(tmp_path / "churn.odl")
    with TestClient(create_app([load_served(str(path))], Settings())) as client:
        answer = client.post("/v1/labels", json={"labels": [label]})
    assert answer.status_code == 422 and answer.json()["field"] == field, answer.text


def test_a_one_row_prediction_is_named_by_its_request_id_or_by_row_0(telco_model, telco_table, tmp_path):
    """The documented ids are "<request id>" and "<request id>:<row>": row 0 of a one-row request
    is that prediction too, and its label counts once whichever name it comes under."""
    path = telco_model.save(tmp_path / "churn.odl")
    row = telco_table.drop(["churn"]).slice(0, 1).to_pylist()[0]
    with TestClient(create_app([load_served(str(path))], Settings())) as client:
        request_id = client.post("/v1/models/churn/predict", json=row).json()["request_id"]
        first = client.post("/v1/labels", json={"labels": [{"id": f"{request_id}:0", "label": "Yes"}]}).json()
        again = client.post("/v1/labels", json={"labels": [{"id": request_id, "label": "Yes"}]}).json()
    assert first["matched"] == 1 and first["unknown"] == 0
    assert again["repeated"] == 1 and again["matched"] == 0
