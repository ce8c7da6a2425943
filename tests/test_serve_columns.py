"""Large native requests decoded straight into columns: the decoder takes only what the usual parse
would take the same way, and the log, the recent-predictions memory and the answer hold what they
hold for dict rows."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("msgspec", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
import orjson
import pyarrow as pa

from oddsline.serve.columns import ColumnRows, RowDecoder
from oddsline.serve.errors import ServiceError
from oddsline.serve.payloads import parse_json
from oddsline.serve.prediction_log import PredictionLog, Scored
from oddsline.serve.recent import Recent, prediction_ids
from oddsline.serve.scores import Scores

COLUMNS = ["x", "class", "a b"]  # a keyword and a space: field names need not be identifiers
ROWS = [
    {"x": 1.5, "class": "a", "a b": None},
    {"a b": 3, "class": 'line\nbreak "quoted" ümlaut 漢字 \\', "x": -0.0},
    {"x": 12345678901234567890123, "class": [1, {"k": None}], "a b": True},
]


def body(rows) -> bytes:
    return json.dumps(rows, ensure_ascii=False).encode()


def test_a_list_of_exactly_the_models_columns_decodes_to_what_the_usual_parse_gives():
    decoded = RowDecoder(COLUMNS).decode(body(ROWS))
    assert isinstance(decoded, ColumnRows) and len(decoded) == 3
    assert [decoded.row(i) for i in range(3)] == parse_json(body(ROWS)) == decoded.dicts()
    assert decoded.column("class") == tuple(row["class"] for row in ROWS)
    with pytest.raises(KeyError):
        decoded.column("nope")
    # A key given twice: left to the usual parse, which refuses it (parsers disagree on which value
    # counts: orjson and json take the last).
    twice = b'[{"x": 1, "class": "a", "a b": 2, "x": 7}]'
    assert RowDecoder(COLUMNS).decode(twice) is None
    with pytest.raises(ServiceError, match="'x' appears twice"):
        parse_json(twice)


@pytest.mark.parametrize(
    "raw",
    [
        body([{"x": 1, "class": "a"}]),  # a column missing: the usual parse names it
        body([{**ROWS[0], "extra": 1}]),  # an extra column: counted (or refused) by the usual path
        b'[{"x": NaN, "class": "a", "a b": 1}]',  # not JSON: the usual parse says why
        b'[{"x": 1e999, "class": "a", "a b": 1}]',
        body(ROWS[0]),  # one object
        body({"rows": ROWS}),
        b"[]",  # no rows: the usual answer
        b" " + body(ROWS),
        b"[1, 2]",
        body(ROWS)[:-1],
    ],
)
def test_anything_else_is_left_to_the_usual_parse(raw):
    assert RowDecoder(COLUMNS).decode(raw) is None


def test_the_json_array_of_decoded_rows_holds_each_row():
    decoded = RowDecoder(COLUMNS).decode(body(ROWS))
    array = decoded.json_array()
    array.validate(full=True)
    assert [json.loads(text) for text in array.to_pylist()] == ROWS


def test_released_rows_keep_what_the_log_and_drift_read():
    decoded = RowDecoder(COLUMNS).decode(body(ROWS))
    before = decoded.column("x")
    decoded.release()
    assert len(decoded) == 3 and decoded.dicts() == ROWS
    assert [json.loads(text) for text in decoded.json_array().to_pylist()] == ROWS
    assert decoded.column("x") == before  # decoded again from the body if anything asks


def test_the_log_writes_decoded_and_dict_requests_alike(tmp_path):
    decoded = RowDecoder(COLUMNS).decode(body(ROWS))
    p = [0.1, 0.2, 0.3]
    items = [
        Scored("one", 5, "m", "1", "/p", [ROWS[0]], [0.4], [0.5], [False], 1.0),
        Scored("batch", 6, "m", "1", "/p", decoded, p, p, [False, False, True], 2.0),
        Scored("dicts", 7, "m", "2", "/q", ROWS[:2], p[:2], p[:2], [True, True], 3.0),
        # A canary request scored in two groups: each row keeps its place, a one-row group included.
        Scored("split", 8, "m", "2", "/p", [ROWS[2], ROWS[0]], p[:2], p[:2], [True, True], 4.0, [2, 0]),
        Scored("split", 8, "c", "3", "/p", [ROWS[1]], [0.6], [0.6], [True], 4.0, [1]),
    ]
    for pii in ((), ("class",)):
        log = PredictionLog(tmp_path / f"log{len(pii)}", pii_columns=pii)
        batch = pa.Table.from_batches([log._to_batch(items)])
        log.close()
        assert batch.column("prediction_id").to_pylist() == [
            *(i for item in items[:3] for i in prediction_ids(item.request_id, len(item.rows))),
            *("split:2", "split:0", "split:1"),
        ]
        assert batch.column("request_id").to_pylist() == ["one", *["batch"] * 3, *["dicts"] * 2, *["split"] * 3]
        assert batch.column("version").to_pylist() == ["1", "1", "1", "1", "2", "2", "2", "2", "3"]
        assert batch.column("latency_ms").to_pylist() == [1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 4.0]
        assert batch.column("probability").to_pylist() == [0.5, *p, *p[:2], *p[:2], 0.6]
        logged = [json.loads(text) for text in batch.column("features").to_pylist()]
        expected = [ROWS[0], *ROWS, *ROWS[:2], ROWS[2], ROWS[0], ROWS[1]]
        if pii:
            assert all(len(row["class"]) == 64 for row in logged)
            logged = [{k: v for k, v in row.items() if k != "class"} for row in logged]
            expected = [{k: v for k, v in row.items() if k != "class"} for row in expected]
        assert logged == expected


def test_recent_rows_keep_the_newest_whole_requests_and_give_at_most_max_rows():
    recent = Recent(max_rows=4)
    decoder = RowDecoder(COLUMNS)
    recent.remember("r1", [ROWS[0]], "m", "1", [0.1])
    recent.remember("r2", decoder.decode(body(ROWS)), "m", "1", [0.1, 0.2, 0.3])
    assert recent.take_rows("m") == [ROWS[0], *ROWS]
    recent.remember("r3", decoder.decode(body(ROWS[1:])), "m", "1", [0.2, 0.3])
    assert recent.take_rows("m") == [*ROWS, *ROWS[1:]][-4:]
    assert len(recent.rows["m"]) == 2  # r1 is gone; r2 is still needed for the fourth-newest row
    assert recent.take_rows("other") == []


def test_scores_answer_as_dicts_and_as_json_alike():
    scores = Scores([0.25, 0.75], [0.2, 0.8], [False, True], ["No", "Yes"])
    assert (
        orjson.loads(scores.json())
        == scores.dicts()
        == [
            {"probability": 0.25, "raw_probability": 0.2, "decision": False, "label": "No"},
            {"probability": 0.75, "raw_probability": 0.8, "decision": True, "label": "Yes"},
        ]
    )
    merged = [{**row, "variant": v} for row, v in zip(scores.dicts(), ["champion", "challenger"], strict=True)]
    again = Scores.from_dicts(merged)
    assert again.dicts() == merged and orjson.loads(again.json()) == merged
    assert Scores.from_dicts(scores.dicts()).extra is None
