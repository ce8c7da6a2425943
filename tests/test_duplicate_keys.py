"""A key twice in one JSON object is refused on every route (400, naming the key), since parsers
disagree on which value counts. The compiled scan agrees with a brute-force walk of the object tree
and with the standard library's parse, on generated bodies with escapes, nesting and large objects."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oddsline.serve.duplicate_keys import COMPILED, _duplicate_by_parse, duplicate_key

pytest.importorskip("fastapi", reason="the serve extra is not installed (pip install 'oddsline[serve]')")
from fastapi.testclient import TestClient

from oddsline.serve import Settings, create_app
from oddsline.serve.models import load_served

if not COMPILED and os.environ.get("ODDSLINE_REQUIRE_COMPILED"):
    raise RuntimeError("oddsline.serve._jsonkeys was not built; ODDSLINE_REQUIRE_COMPILED is set")

KEYS = st.sampled_from(["a", "b", "tenure", 'qu"ote', "back\\slash", "é", "\u0001", "a\u00e9"])


class Pairs(list):  # type: ignore[type-arg]
    """An object as written: its (key, value) pairs in order, duplicates kept."""


def _trees() -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-99, 99), st.text(max_size=4))
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.lists(st.tuples(KEYS, inner), max_size=5).map(Pairs),
            st.lists(st.tuples(st.sampled_from([f"k{i}" for i in range(60)]), inner), min_size=30, max_size=60).map(
                Pairs
            ),
        ),
        max_leaves=40,
    )


def _encode(tree: Any, ascii_escapes: bool) -> str:
    if isinstance(tree, Pairs):
        items = (f"{json.dumps(k, ensure_ascii=ascii_escapes)}: {_encode(v, ascii_escapes)}" for k, v in tree)
        return "{" + ", ".join(items) + "}"
    if isinstance(tree, list):
        return "[" + ",".join(_encode(v, ascii_escapes) for v in tree) + "]"
    return json.dumps(tree, ensure_ascii=ascii_escapes)


def _duplicated(tree: Any) -> set[str]:
    """Every key that appears twice in some object of the tree (brute force)."""
    found: set[str] = set()
    if isinstance(tree, Pairs):
        keys = [k for k, _ in tree]
        found |= {k for k in keys if keys.count(k) > 1}
        for _, v in tree:
            found |= _duplicated(v)
    elif isinstance(tree, list):
        for v in tree:
            found |= _duplicated(v)
    return found


@settings(max_examples=400, deadline=None)
@given(tree=_trees(), ascii_escapes=st.booleans())
def test_the_scan_finds_a_duplicate_exactly_when_an_object_has_one(tree: Any, ascii_escapes: bool) -> None:
    body = _encode(tree, ascii_escapes).encode()
    expected = _duplicated(tree)
    found = duplicate_key(body)
    assert (found is not None) == bool(expected), (body, found, expected)
    assert found is None or found in expected
    by_parse = _duplicate_by_parse(body)
    assert (by_parse is not None) == bool(expected)


def test_malformed_or_deep_bodies_are_left_to_the_parser() -> None:
    for body in (b"not json", b'{"a": 1,', b'{"a', b"[" * 100_000, b'}}]]{"a":1,"a":2'):
        assert duplicate_key(body) in (None, "a")  # never an exception; the parser reports these
    assert duplicate_key(b'{"a": "\\"a", "b": 1}') is None  # an escaped quote inside a value


def test_a_hostile_object_of_many_keys_is_scanned_whole() -> None:
    keys = [f"k{i}" for i in range(100_000)]
    body = json.dumps(dict.fromkeys(keys, 1)).encode()
    assert duplicate_key(body) is None
    assert duplicate_key(body[:-1] + b', "k77777": 2}') == "k77777"


@pytest.fixture(scope="module")
def client(telco_model_file, tmp_path_factory):
    settings = Settings(labels_folder=str(tmp_path_factory.mktemp("labels")))
    with TestClient(create_app([load_served(str(telco_model_file))], settings)) as client:
        yield client


@pytest.fixture(scope="module")
def rows(telco_table):
    return telco_table.drop(["churn"]).slice(0, 3000).to_pylist()


def _twice(row: dict[str, Any], key: str = "tenure", value: Any = 5) -> str:
    """The row's JSON text with ``key`` written a second time, last, with ``value``."""
    return json.dumps(row)[:-1] + f', "{key}": {json.dumps(value)}}}'


def _refused(answer: Any, key: str) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == key and "twice" in answer.json()["error"]


@pytest.mark.parametrize("path", ["/v1/models/churn/predict", "/v1/models/churn/predict?explain=true"])
def test_the_native_route_refuses_a_duplicated_column_in_one_row_or_many(client, rows, path: str) -> None:
    one = _twice(rows[0])
    assert client.post(path, json=rows[0]).status_code == 200
    _refused(client.post(path, content=one), "tenure")
    many = "[" + ",".join(json.dumps(r) for r in rows[:-1]) + "," + _twice(rows[-1]) + "]"  # the 3,000th row
    _refused(client.post(path, content=many), "tenure")
    wrapped = '{"rows": [' + one + "]}"
    _refused(client.post(path, content=wrapped), "tenure")
    _refused(client.post(path, content='{"rows": [], "rows": [' + json.dumps(rows[0]) + "]}"), "rows")


def test_mlflow_oip_and_labels_refuse_a_duplicated_key(client, rows) -> None:
    _refused(client.post("/invocations", content='{"dataframe_records": [' + _twice(rows[0]) + "]}"), "tenure")
    tensor = {"name": "tenure", "shape": [1], "datatype": "FP64", "data": [3]}
    body = '{"inputs": [' + _twice(tensor, "name", "contract") + "]}"
    _refused(client.post("/v2/models/churn/infer", content=body), "name")
    label = '{"labels": [{"id": "x", "label": "Yes", "label": "No"}]}'
    _refused(client.post("/v1/labels", content=label), "label")
