"""Labels arrive late: store them as they come, join them to logged predictions on read, and measure
the model on the labelled rows by time window and model version.

A label names a prediction by its id — the prediction log's ``prediction_id`` (the request id for a
one-row request, ``<request id>:<row>`` for row ``row`` of a batch) — or, with ``entity``, by the value
of an entity column in the logged features (a customer id): it then belongs to the latest prediction
for that entity at or before the label's time. Each ingestion is one Parquet file under the labels
folder (written atomically, never rewritten), so a label whose prediction is not logged yet is kept
and matched later; when an id is labelled more than once the latest label wins. Ingestion counts every
row: refused (no id or no label), duplicated, matched, unknown, late.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .._exceptions import ParameterError, SchemaError
from ..io import atomic_path, private_folder
from ..metrics import at_threshold, brier_score, expected_calibration_error, log_loss, roc_auc
from ..target import BinaryTarget
from .prediction_files import read_predictions

__all__ = ["LABEL_SCHEMA", "ingest_labels", "labelled_predictions", "read_labels", "windowed_performance"]

LABEL_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("label", pa.string()),  # the label as text; compared with str(model's positive class)
        ("labelled_at", pa.timestamp("us", tz="UTC")),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)


def read_labels(folder: str | Path) -> pa.Table:
    files = sorted(Path(folder).glob("labels-*.parquet"))
    return pa.concat_tables(pq.read_table(f) for f in files) if files else LABEL_SCHEMA.empty_table()


def _predictions(log_folder: str | Path) -> pa.Table:
    return read_predictions(log_folder)


def store_labels(records: list[dict[str, Any]], folder: str | Path) -> Path:
    """Append label records (id, label, labelled_at) as one new file; returns its path."""
    now = dt.datetime.now(dt.UTC)
    rows = [
        {
            "id": str(r["id"]),
            "label": str(r["label"]),
            "labelled_at": r.get("labelled_at") or now,
            "ingested_at": now,
        }
        for r in records
    ]
    target = Path(folder) / f"labels-{now.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.parquet"
    private_folder(target.parent)
    with atomic_path(target, private=True) as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=LABEL_SCHEMA), tmp)
    return target


def ingest_labels(
    table: pa.Table,
    *,
    id_column: str,
    label_column: str,
    log_folder: str | Path,
    labels_folder: str | Path,
    time_column: str | None = None,
    entity: str | None = None,
    late_after: dt.timedelta = dt.timedelta(days=30),
) -> dict[str, Any]:
    """Store the labels of ``table`` and say what became of every row (see the module docstring)."""
    for name, option in ((id_column, "--id"), (label_column, "--label"), (time_column, "--time")):
        if name is not None and name not in table.column_names:
            raise SchemaError(
                f"{option} column {name!r} is not in the labels table; its columns are {table.column_names}"
            )
    ids = table.column(id_column).to_pylist()
    labels = table.column(label_column).to_pylist()
    times = table.column(time_column).to_pylist() if time_column else [None] * table.num_rows
    records, refused = [], 0
    for i, label, at in zip(ids, labels, times, strict=True):
        if i is None or label is None:
            refused += 1
            continue
        if at is not None and not isinstance(at, dt.datetime):
            raise SchemaError(f"--time column {time_column!r} must hold timestamps, got {at!r}")
        if isinstance(at, dt.datetime) and at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        records.append({"id": str(i), "label": label, "labelled_at": at})
    earlier = set(read_labels(labels_folder).column("id").to_pylist())
    seen: set[str] = set()
    duplicated = 0
    for r in records:
        duplicated += r["id"] in seen or r["id"] in earlier
        seen.add(r["id"])
    if records:
        store_labels(records, labels_folder)
    joined = labelled_predictions(log_folder, labels_folder, entity=entity)
    fresh = joined.filter(pc.is_in(joined.column("label_id"), pa.array(sorted(seen), pa.string())))
    delays = np.asarray(fresh.column("delay_seconds").to_numpy(zero_copy_only=False), dtype=np.float64)
    matched_ids = set(fresh.column("label_id").to_pylist())
    return {
        "rows": table.num_rows,
        "stored": len(records),
        "refused_missing_id_or_label": refused,
        "duplicated": duplicated,
        "matched": len(matched_ids),
        "unknown": len(seen - matched_ids),
        "late": int(np.sum(delays > late_after.total_seconds())),
        "delay_seconds": _quantiles(delays),
    }


def _quantiles(values: np.ndarray) -> dict[str, float] | None:
    if values.size == 0:
        return None
    q = np.quantile(values, [0.5, 0.9, 0.99])
    return {"p50": float(q[0]), "p90": float(q[1]), "p99": float(q[2]), "max": float(values.max())}


def labelled_predictions(log_folder: str | Path, labels_folder: str | Path, *, entity: str | None = None) -> pa.Table:
    """Logged predictions that have a label (the latest per id): the log's columns plus ``label``,
    ``label_id``, ``labelled_at`` and ``delay_seconds`` (label time - prediction time)."""
    log = _predictions(log_folder)
    labels = read_labels(labels_folder)
    if labels.num_rows == 0 or log.num_rows == 0:
        return _empty_join(log.schema)
    latest: dict[str, tuple[str, dt.datetime]] = {}
    order = np.argsort(labels.column("labelled_at").to_numpy(zero_copy_only=False), kind="stable")
    ids, values, at = (labels.column(c).to_pylist() for c in ("id", "label", "labelled_at"))
    for k in order.tolist():
        latest[ids[k]] = (values[k], at[k])
    if entity is None:
        keys = log.column("prediction_id").to_pylist()
        chosen = [k for k, key in enumerate(keys) if key in latest]
        label_ids = [keys[k] for k in chosen]
    else:
        keys = [json.loads(f).get(entity) for f in log.column("features").to_pylist()]
        if all(key is None for key in keys):
            raise ParameterError(f"no logged prediction has the entity column {entity!r}; check --entity")
        times = log.column("time").to_pylist()
        best: dict[str, int] = {}
        for k, key in enumerate(keys):
            if key is None or str(key) not in latest:
                continue
            key = str(key)
            if times[k] <= latest[key][1] and (key not in best or times[k] >= times[best[key]]):
                best[key] = k
        chosen = sorted(best.values())
        label_ids = [str(keys[k]) for k in chosen]
    picked = log.take(pa.array(chosen, pa.int64()))
    label_at = [latest[i][1] for i in label_ids]
    delay = [(b - a).total_seconds() for a, b in zip(picked.column("time").to_pylist(), label_at, strict=True)]
    return (
        picked.append_column("label_id", pa.array(label_ids, pa.string()))
        .append_column("label", pa.array([latest[i][0] for i in label_ids], pa.string()))
        .append_column("labelled_at", pa.array(label_at, pa.timestamp("us", tz="UTC")))
        .append_column("delay_seconds", pa.array(delay, pa.float64()))
    )


def _empty_join(schema: pa.Schema) -> pa.Table:
    extra = [
        ("label_id", pa.string()),
        ("label", pa.string()),
        ("labelled_at", pa.timestamp("us", tz="UTC")),
        ("delay_seconds", pa.float64()),
    ]
    return pa.schema([*schema, *[pa.field(n, t) for n, t in extra]]).empty_table()


def windowed_performance(
    joined: pa.Table, *, target: BinaryTarget, threshold: float, window: dt.timedelta = dt.timedelta(days=1)
) -> list[dict[str, Any]]:
    """Per model version and window of prediction time: rows, positive rate, mean prediction, log
    loss, ROC AUC (when both classes are present), Brier, ECE, precision and recall at the threshold.
    A label is read as ``target.label_of`` reads it (``yes``/``1``/``true`` for "Yes"); one that is
    neither class is left out of the metrics and counted in its window's ``invalid_labels``."""
    if window.total_seconds() <= 0:
        raise ParameterError(f"window must be positive, got {window}")
    if joined.num_rows == 0:
        return []
    truth = [target.label_of(v) for v in joined.column("label").to_pylist()]
    valid = np.array([t is not None for t in truth])
    y = np.array([bool(t) for t in truth], dtype=np.float64)
    p = np.asarray(joined.column("probability").to_numpy(zero_copy_only=False), dtype=np.float64)
    seconds = pc.cast(joined.column("time"), pa.int64()).to_numpy(zero_copy_only=False) / 1e6
    bucket = np.floor(seconds / window.total_seconds()).astype(np.int64)
    versions = np.array(joined.column("version").to_pylist(), dtype=object)
    models = np.array(joined.column("model").to_pylist(), dtype=object)
    out = []
    for model, version, b in sorted({(m, v, int(k)) for m, v, k in zip(models, versions, bucket, strict=True)}):
        window_rows = (models == model) & (versions == version) & (bucket == b)
        rows = window_rows & valid
        if not rows.any():
            continue
        yw, pw = y[rows], p[rows]
        decisions = at_threshold(yw, pw, threshold)
        both = 0 < yw.sum() < rows.sum()
        out.append(
            {
                "model": model,
                "version": version,
                "window_start": dt.datetime.fromtimestamp(b * window.total_seconds(), dt.UTC).isoformat(),
                "rows": int(rows.sum()),
                "positive_rate": float(y[rows].mean()),
                "mean_prediction": float(p[rows].mean()),
                "log_loss": log_loss(yw, pw),
                "roc_auc": roc_auc(yw, pw) if both else None,
                "brier": brier_score(yw, pw),
                "ece": expected_calibration_error(yw, pw),
                "precision": decisions["precision"],
                "recall": decisions["recall"],
                "invalid_labels": int((window_rows & ~valid).sum()),
            }
        )
    return out
