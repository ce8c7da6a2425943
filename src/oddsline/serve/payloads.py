"""Request bodies into lists of row dicts, for each protocol; strict JSON (no NaN or Infinity)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from typing import Any

import msgspec

from ..io import NULL_VALUES
from .duplicate_keys import duplicate_key
from .errors import ServiceError

__all__ = ["check_row_count", "parse_json", "rows_from_mlflow", "rows_from_native", "rows_from_oip"]


def _reject_constant(name: str) -> Any:
    raise ServiceError(400, f"the body is not valid JSON: {name} is not a JSON value; send null for a missing value")


# msgspec: the parser that also decodes large requests straight into columns (columns.py), so both
# paths read every number the same way (an integer beyond 64 bits stays exact in both).
_decoder = msgspec.json.Decoder()


def parse_json(body: bytes) -> Any:
    """Strict JSON: NaN, Infinity, numbers beyond float64 and a key twice in one object refused (the
    standard library takes all four); a refused body is parsed again by the standard library only to
    say what is wrong with it."""
    try:
        payload = _decoder.decode(body)
        key = duplicate_key(body)
        if key is not None:
            raise ServiceError(
                400,
                f"the key {key!r} appears twice in one object: send each key once (parsers disagree on which "
                "value counts)",
                key,
            )
        return payload
    except msgspec.ValidationError as exc:  # the one kind: a number beyond float64
        raise ServiceError(422, f"the body holds a number beyond float64 ({exc}): send it as text") from None
    except msgspec.DecodeError as exc:
        refused = str(exc)
    except RecursionError:
        raise ServiceError(400, _TOO_DEEP) from None
    try:
        json.loads(body, parse_constant=_reject_constant)
    except ServiceError:
        raise
    except RecursionError:
        raise ServiceError(400, _TOO_DEEP) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServiceError(400, f"the body is not valid JSON: {str(exc).splitlines()[0]}") from None
    raise ServiceError(400, f"the body is not valid JSON: {refused}")  # e.g. an unpaired UTF-16 surrogate


_TOO_DEEP = "the body nests arrays or objects too deeply to be rows of a model: send flat rows"


def check_row_count(n_rows: int, max_rows: int) -> None:
    if not n_rows:
        raise ServiceError(422, "no rows to score: send a JSON object (one row) or a list of them")
    if n_rows > max_rows:
        raise ServiceError(413, f"{n_rows} rows in one request; the limit is {max_rows}: split the request")


def _limit(rows: list[dict[str, Any]], max_rows: int) -> list[dict[str, Any]]:
    check_row_count(len(rows), max_rows)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ServiceError(422, f"row {i} is not a JSON object of column: value", f"rows[{i}]")
    return rows


def rows_from_native(payload: Any, max_rows: int) -> list[dict[str, Any]]:
    if isinstance(payload, dict) and "rows" in payload:
        payload = payload["rows"]
    elif isinstance(payload, dict) and list(payload) == ["instances"]:
        payload = payload["instances"]  # the row-oriented body of TensorFlow Serving and KServe V1 clients
    rows = [payload] if isinstance(payload, dict) else payload
    if not isinstance(rows, list):
        raise ServiceError(
            422, 'send a JSON object (one row), a list of objects, {"rows": [...]} or {"instances": [...]}'
        )
    return _limit(rows, max_rows)


def rows_from_mlflow(payload: Any, content_type: str, body: bytes, max_rows: int) -> list[dict[str, Any]]:
    if content_type.startswith("text/csv"):
        return _limit(_csv_rows(body), max_rows)
    if not isinstance(payload, dict):
        raise ServiceError(
            422, "an MLflow request is an object with dataframe_split, dataframe_records, instances or inputs"
        )
    if "dataframe_split" in payload:
        split = payload["dataframe_split"]
        if (
            not isinstance(split, dict)
            or not isinstance(split.get("columns"), list)
            or not isinstance(split.get("data"), list)
        ):
            raise ServiceError(
                422, "dataframe_split needs 'columns' (a list) and 'data' (a list of rows)", "dataframe_split"
            )
        columns = split["columns"]
        rows = []
        for i, values in enumerate(split["data"]):
            if not isinstance(values, list) or len(values) != len(columns):
                raise ServiceError(422, f"dataframe_split row {i} does not have {len(columns)} values", f"data[{i}]")
            rows.append(dict(zip(columns, values, strict=True)))
        return _limit(rows, max_rows)
    if "dataframe_records" in payload:
        records: list[Any] = payload["dataframe_records"] if isinstance(payload["dataframe_records"], list) else [None]
        return _limit(records, max_rows)
    for key in ("instances", "inputs"):
        if key in payload:
            value = payload[key]
            if isinstance(value, dict):  # columnar: {"col": [values...]}
                lengths = {len(v) for v in value.values() if isinstance(v, list)}
                if len(lengths) != 1 or not all(isinstance(v, list) for v in value.values()):
                    raise ServiceError(422, f"{key} as columns needs lists of equal length", key)
                n = lengths.pop()
                return _limit([{c: v[i] for c, v in value.items()} for i in range(n)], max_rows)
            if isinstance(value, list):
                return _limit(value, max_rows)
            raise ServiceError(422, f"{key} must be a list of row objects or an object of column lists", key)
    raise ServiceError(422, "an MLflow request needs dataframe_split, dataframe_records, instances or inputs")


def _csv_rows(body: bytes) -> list[dict[str, Any]]:
    """A CSV body (a header line, then one line per row) as rows; every line must have the header's
    number of fields (csv.DictReader would file extra ones under the key None, or fill missing ones)."""
    try:
        lines = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ServiceError(400, f"the CSV body could not be read: {exc}") from None
    lines = [line for line in lines if line]  # blank lines hold no row
    if not lines:
        return []
    header = lines[0]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ServiceError(400, f"the CSV header names {repeated[0]!r} twice: name each column once", repeated[0])
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if len(line) != len(header):
            raise ServiceError(
                400,
                f"CSV line {number} has {len(line)} fields where the header has {len(header)}: quote values "
                "that hold commas or line breaks",
            )
        rows.append({name: _csv_value(value) for name, value in zip(header, line, strict=True)})
    return rows


_CSV_MISSING = frozenset(NULL_VALUES)


def _csv_value(text: str | None) -> Any:
    # The spellings of a missing value a CSV file is read with in training (NaN, NA, NULL, #N/A, ...)
    # are missing here too, as "NaN" in a JSON string is: not a number to refuse.
    if text is None or text == "" or text in _CSV_MISSING:
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        raise ServiceError(422, f"{text!r} is not an allowed number: leave the field empty for a missing value")
    return number


def rows_from_oip(payload: Any, max_rows: int) -> tuple[list[dict[str, Any]], str | None]:
    """Open Inference Protocol V2: one input tensor per source column, each of shape [N] or [N, 1]."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list) or not payload["inputs"]:
        raise ServiceError(
            400, "an inference request needs 'inputs': a list of tensors, one per source column", "inputs"
        )
    columns: dict[str, list[Any]] = {}
    n = None
    for tensor in payload["inputs"]:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str) or "data" not in tensor:
            raise ServiceError(400, "each input tensor needs 'name', 'shape', 'datatype' and 'data'", "inputs")
        shape = tensor.get("shape")
        data = tensor["data"]
        flat = _flatten(data)
        if not isinstance(shape, list) or not shape or shape[0] != len(flat) or any(s != 1 for s in shape[1:]):
            raise ServiceError(
                400, f"tensor {tensor['name']!r}: shape must be [N] or [N, 1] with N values", tensor["name"]
            )
        if tensor.get("datatype") == "BYTES":
            flat = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in flat]
            flat = [None if v == "" else v for v in flat]
        if n is not None and len(flat) != n:
            raise ServiceError(400, "all input tensors must have the same first dimension", tensor["name"])
        n = len(flat)
        columns[tensor["name"]] = flat
    rows = [{c: v[i] for c, v in columns.items()} for i in range(n or 0)]
    return _limit(rows, max_rows), payload.get("id")


_NUMPY_OF = {
    "BOOL": "?",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}


def split_binary_request(body: bytes, header_length: str | None) -> tuple[Any, bytes]:
    """The binary tensor extension (Triton's, used by tritonclient by default): a JSON header of
    ``Inference-Header-Content-Length`` bytes, then each binary input's bytes in order."""
    if header_length is None:
        return parse_json(body), b""
    if not header_length.isdigit() or int(header_length) > len(body):
        raise ServiceError(
            400, "Inference-Header-Content-Length does not fit the body", "Inference-Header-Content-Length"
        )
    n = int(header_length)
    return parse_json(body[:n]), body[n:]


def attach_binary(payload: Any, blob: bytes) -> None:
    """Replace each binary input's missing ``data`` by the values decoded from ``blob``."""
    import numpy as np

    offset = 0
    inputs = payload.get("inputs") if isinstance(payload, dict) else None
    # Anything but a list of objects is left to the request's own checks, which answer 400.
    for tensor in inputs if isinstance(inputs, list) else []:
        parameters = tensor.get("parameters") if isinstance(tensor, dict) else None
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is None:
            continue
        if not isinstance(size, int) or size < 0 or offset + size > len(blob):
            raise ServiceError(
                400, f"tensor {tensor.get('name')!r}: binary_data_size does not fit the body", tensor.get("name")
            )
        chunk = blob[offset : offset + size]
        offset += size
        datatype = tensor.get("datatype")
        if datatype == "BYTES":
            values, i = [], 0
            while i < len(chunk):
                length = int.from_bytes(chunk[i : i + 4], "little")
                values.append(chunk[i + 4 : i + 4 + length].decode("utf-8", "replace"))
                i += 4 + length
            tensor["data"] = values
        elif datatype in _NUMPY_OF:
            array = np.frombuffer(chunk, dtype=_NUMPY_OF[datatype])
            if datatype.startswith("FP") and not np.all(np.isfinite(array[~np.isnan(array)])):
                raise ServiceError(422, f"tensor {tensor.get('name')!r} holds an infinite value", tensor.get("name"))
            tensor["data"] = [None if isinstance(v, float) and v != v else v for v in array.tolist()]
        else:
            raise ServiceError(400, f"tensor {tensor.get('name')!r}: unknown datatype {datatype!r}", tensor.get("name"))


def _flatten(data: Any) -> list[Any]:
    if isinstance(data, list) and data and isinstance(data[0], list):
        return [v for inner in data for v in inner]
    if not isinstance(data, list):
        raise ServiceError(400, "tensor data must be a list")
    return data


def labels_from_json(payload: Any, max_rows: int) -> list[dict[str, Any]]:
    """``{"labels": [{"id": ..., "label": ..., "time": ISO-8601 (optional)}]}`` (or the bare list) into
    records with ``id`` and ``label`` as text and ``labelled_at`` (None: now)."""
    items = payload.get("labels") if isinstance(payload, dict) else payload
    if not isinstance(items, list) or not items:
        raise ServiceError(422, 'send {"labels": [{"id": "<prediction id>", "label": ...}, ...]}', "labels")
    if len(items) > max_rows:
        raise ServiceError(413, f"{len(items)} labels in one request; the limit is {max_rows}", "labels")
    records = []
    for k, item in enumerate(items):
        if not isinstance(item, dict) or item.get("id") is None or item.get("label") is None:
            raise ServiceError(422, f"label {k} needs an 'id' (the prediction id) and a 'label'", "labels")
        if isinstance(item["id"], (bool, dict, list)):
            raise ServiceError(422, f"label {k}: 'id' must be a prediction id (text)", "id")
        if isinstance(item["label"], (dict, list)):
            raise ServiceError(422, f"label {k}: 'label' must be a class (a string, number or boolean)", "label")
        at = item.get("time")
        if at is not None and not isinstance(at, str):
            raise ServiceError(422, f"label {k}: time {at!r} is not ISO-8601 text", "time")
        if at is not None:
            try:
                parsed = dt.datetime.fromisoformat(str(at))
            except ValueError:
                raise ServiceError(422, f"label {k}: time {at!r} is not ISO-8601", "time") from None
            at = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        records.append({"id": str(item["id"]), "label": str(item["label"]), "labelled_at": at})
    return records
