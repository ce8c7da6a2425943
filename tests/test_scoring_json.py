"""The compiled scorer of JSON rows (``scoring_json.py``, ``_jsonrows.c``) against the Python path.

Wherever it answers, each row's log-odds must be bit for bit the one the Python one-row scorer gives
the same row parsed by the standard library, with the same counts; wherever it does not (anything but
the common case), it must say so rather than guess. Generated bodies mix the common case with
everything else, spelled with random formatting, and mutated byte by byte.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oddsline import FeatureSpec
from oddsline.features import TransformReport
from oddsline.model import Model
from oddsline.scoring_json import COMPILED, JsonRowScorer
from oddsline.target import BinaryTarget

if not COMPILED:
    reason = "oddsline._jsonrows was not built (no C compiler when the package was installed)"
    if os.environ.get("ODDSLINE_REQUIRE_COMPILED"):
        raise RuntimeError(reason + "; ODDSLINE_REQUIRE_COMPILED is set")
    pytest.skip(reason, allow_module_level=True)

LEVELS = ["a", "b", "ümlaut", 'quo"te', "back\\slash", "tab\there", "rare", "rare2"]
SPELLINGS = ["true", "false", "yes", "no", "y", "n", "1", "0", "t", "f"]


def _training_table(n=600, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 10
    x[rng.uniform(size=n) < 0.1] = np.nan
    c = [*list(rng.choice(LEVELS[:-2], n - 2)), "rare", "rare2"]  # seen once each: the <rare> bucket
    return pa.table(
        {
            "x": pa.array(x, from_pandas=True),
            "n": rng.integers(0, 50, n),
            "c": pa.array([None if i % 17 == 0 else v for i, v in enumerate(c)]),
            "e": pa.array(rng.choice(["p", "q"], n)),
            "b": pa.array([bool(v) if v < 2 else None for v in rng.integers(0, 3, n)]),
            "d": pa.array(rng.integers(0, 2, n).astype(bool)),
        }
    )


SPEC = FeatureSpec.from_dict(
    {
        "columns": [
            {"name": "x", "kind": "numeric", "clip": [0.05, 0.95]},
            {"name": "n", "kind": "numeric", "scale": "robust", "indicator": True},
            {"name": "c", "kind": "categorical", "min_frequency": 2},
            {"name": "e", "kind": "categorical", "unseen": "error"},
            {"name": "b", "kind": "boolean"},
            {"name": "d", "kind": "boolean"},
        ]
    }
)


@pytest.fixture(scope="module")
def model():
    table = _training_table()
    features, X = SPEC.fit_transform(table, np.zeros(table.num_rows))
    coef = np.random.default_rng(2).normal(size=X.shape[1])
    coef[2] = 0.0  # a zero coefficient must not break the agreement
    return Model(features, BinaryTarget("y", 0, 1), coef, intercept=-0.3)


def python_path(model, body):
    """Each row's log-odds by the one-row scorer, from the standard library's parse, and the counts."""
    report = TransformReport()
    rows = json.loads(body)
    scorer = model._scorer()
    return np.array([scorer.log_odds(row, report) for row in rows]), report.to_dict()


def compiled(model, body):
    report = TransformReport()
    log_odds = model.json_row_scorer().log_odds(body, report)
    return log_odds, report.to_dict()


def same_bits(a, b):
    return np.asarray(a, dtype=np.float64).tobytes() == np.asarray(b, dtype=np.float64).tobytes()


COMMON = {  # values the compiled scorer takes: known levels, in-range numbers, imputed nulls
    "x": st.one_of(st.none(), st.floats(-8, 8), st.integers(-5, 5)),
    "n": st.one_of(st.none(), st.integers(0, 49), st.floats(0, 49)),
    "c": st.one_of(st.none(), st.sampled_from(["a", "b", "ümlaut"])),
    "e": st.sampled_from(["p", "q"]),
    "b": st.one_of(st.none(), st.booleans(), st.sampled_from([0, 1, 1.0, -0.0, *SPELLINGS])),
    "d": st.one_of(st.none(), st.booleans(), st.sampled_from([0, 1, *SPELLINGS])),
}
ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([*LEVELS, "p", "never", "TRUE", "Yes", " 1", "3.5", "", "<missing>", "<rare>"]),
    st.text(max_size=4),
    st.just([1]),
    st.just({"k": 1}),
)
common = st.fixed_dictionaries(COMMON)
loose = st.fixed_dictionaries({name: st.one_of(values, ANYTHING) for name, values in COMMON.items()})


def spelled(rows, draw_format):
    """The rows as JSON text, keys in a drawn order, with drawn spacing."""
    order, indent, separators = draw_format
    ordered = [{k: row[k] for k in sorted(row, key=order.index)} for row in rows]
    return json.dumps(ordered, indent=indent, separators=separators, ensure_ascii=False).encode()


formats = st.tuples(
    st.permutations(list("xncebd")),
    st.sampled_from([None, 0, 2]),
    st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : ")]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(common, min_size=1, max_size=30), draw_format=formats)
def test_the_common_case_is_scored_bit_for_bit_as_the_python_path(model, rows, draw_format):
    body = spelled(rows, draw_format)
    log_odds, report = compiled(model, body)
    assert log_odds is not None, body
    reference, reference_report = python_path(model, body)
    assert same_bits(log_odds, reference)
    assert report == reference_report  # rows and imputed counts


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(loose, min_size=1, max_size=12), draw_format=formats)
def test_anything_else_is_either_scored_alike_or_left_to_the_python_path(model, rows, draw_format):
    body = spelled(rows, draw_format)
    log_odds, report = compiled(model, body)
    if log_odds is not None:
        reference, reference_report = python_path(model, body)
        assert same_bits(log_odds, reference) and report == reference_report


PIECES = st.one_of(
    st.binary(min_size=1, max_size=2), st.sampled_from(list(b',:{}[]" \\-+.e0159nult'.decode())).map(str.encode)
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(common, min_size=1, max_size=4),
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["drop", "insert", "replace"]), PIECES)),
)
def test_a_mangled_body_is_taken_only_if_it_is_json_with_the_same_scores(model, rows, edits):
    body = bytearray(json.dumps(rows, ensure_ascii=False).encode())
    for at, how, data in edits:
        i = at % (len(body) + 1)
        if how == "drop":
            del body[i : i + 1]
        elif how == "insert":
            body[i:i] = data
        else:
            body[i : i + len(data)] = data
    log_odds, report = compiled(model, bytes(body))
    if log_odds is None:
        return
    parsed = json.loads(bytes(body), parse_constant=lambda name: pytest.fail(f"took {name}"))
    assert isinstance(parsed, list) and all(isinstance(r, dict) and r.keys() == set("xncebd") for r in parsed)
    reference, reference_report = python_path(model, bytes(body))
    assert same_bits(log_odds, reference) and report == reference_report


@pytest.mark.parametrize(
    "text",
    [
        "1.5",  # a float literal of a whole number: the same double as the int
        "7",
        "-0",
        "-0.0",
        "0.1",
        "2.675",
        "1e1",
        "12345678901234.5",  # 15 significant digits: the exact fast path
        "1234567890123456.7",  # more: strtod
        "0.30000000000000004",
        "4.9e-324",  # the smallest subnormal
        "1E-400",  # underflows to 0, as float() reads it
        "3.0000000000000000000000001",
    ],
)
def test_number_literals_read_as_python_reads_them(text):
    """A plan with one numeric column whose range admits everything: the share is (v - 0) / 1 * 1."""
    from oddsline import _jsonrows  # type: ignore[attr-defined]

    plan = _jsonrows.Plan([(b"v", 2, 1.0, -1e308, 1e308, -np.inf, np.inf, 0.0, 1.0, 0, 0.0, [])], 0.0)
    packed, nulls = plan.log_odds(f'[{{"v": {text}}}]'.encode())
    assert np.frombuffer(packed).tobytes() == np.array([0.0 + 1.0 * ((float(json.loads(text)) - 0.0) / 1.0)]).tobytes()
    assert nulls == (0,)


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b"{}",
        b"[{}]",
        b'[{"v": 1}',  # unterminated
        b'[{"v": 1}] x',  # trailing text
        b'[{"v": 1},]',  # trailing comma
        b'[{"v": 1, "v": 2}]',  # a key twice
        b'[{"v": 1, "w": 2}]',  # an extra column
        b'[{"v": 01}]',  # a leading zero
        b'[{"v": 1.}]',
        b'[{"v": .5}]',
        b'[{"v": +1}]',
        b'[{"v": NaN}]',
        b'[{"v": Infinity}]',
        b'[{"v": 1e999}]',  # beyond float64: refused on the Python path
        b'[{"v": 1234567890123456}]',  # an int past 15 digits: left to Python's exact comparison
        b'[{"v": "1"}]',  # numeric text
        b'[{"v": true}]',
        b'[{"v": null}]',  # this plan does not impute
        b'[{"\\u0076": 1}]',  # an escaped key
        b'[{"v" 1}]',
        b'[{"v": 1}{"v": 2}]',
    ],
)
def test_what_is_not_the_common_case_is_declined(body):
    from oddsline import _jsonrows  # type: ignore[attr-defined]

    plan = _jsonrows.Plan([(b"v", 2, 1.0, -1e308, 1e308, -np.inf, np.inf, 0.0, 1.0, 0, 0.0, [])], 0.0)
    assert plan.log_odds(body) is None
    assert plan.log_odds(b' [ {"v" : 1 } , {"v":2}]\n') is not None  # the same plan takes the plain case


def test_a_level_json_spells_with_escapes_is_left_to_the_python_path(model):
    for level in ['quo"te', "back\\slash", "tab\there", "never", "rare", "rare2", "<rare>"]:
        body = json.dumps([{"x": 1.0, "n": 3, "c": level, "e": "p", "b": True, "d": False}]).encode()
        assert model.json_row_scorer().log_odds(body) is None, level
    body = json.dumps([{"x": 1.0, "n": 3, "c": "ümlaut", "e": "p", "b": True, "d": False}], ensure_ascii=False)
    log_odds, _ = compiled(model, body.encode())
    assert log_odds is not None and same_bits(log_odds, python_path(model, body.encode())[0])
    escaped = json.dumps([{"x": 1.0, "n": 3, "c": "ümlaut", "e": "p", "b": True, "d": False}])  # \u00fc
    assert model.json_row_scorer().log_odds(escaped.encode()) is None


def test_models_with_other_column_kinds_have_no_compiled_scorer():
    table = _training_table()
    for column in (
        {"name": "n", "kind": "numeric", "log1p": True},
        {"name": "x", "kind": "numeric", "bins": 4},
        {"name": "c", "kind": "hashed", "bits": 4},
        {"kind": "interaction", "columns": ["x", "n"]},
    ):
        others = [{"name": name, "kind": "numeric"} for name in ("x", "n") if name != column.get("name")]
        spec = FeatureSpec.from_dict({"columns": [column, *others]})
        features, X = spec.fit_transform(table, np.zeros(table.num_rows))
        assert JsonRowScorer.compile(features, np.ones(X.shape[1]), 0.0) is None, column


def test_the_last_answer_is_remembered_for_the_same_body_only(model):
    scorer = model.json_row_scorer()
    body = json.dumps([{"x": 1.0, "n": None, "c": "a", "e": "p", "b": True, "d": False}] * 3).encode()
    first, again = TransformReport(), TransformReport()
    a = scorer.log_odds(body, first)
    b = scorer.log_odds(body, again)
    assert a is not None and same_bits(a, b) and not a.flags.writeable
    assert first.to_dict() == again.to_dict() and again.counts["imputed"] == {"n": 3}  # counted on each ask
    other = body.replace(b'"a"', b'"b"')
    assert not same_bits(scorer.log_odds(other), a)


def test_a_plan_refuses_bad_columns():
    from oddsline import _jsonrows  # type: ignore[attr-defined]

    with pytest.raises(TypeError):
        _jsonrows.Plan([(b"v", 2, 1.0)], 0.0)
    with pytest.raises(ValueError, match="unknown kind 7"):
        _jsonrows.Plan([(b"v", 7, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0, 0.0, [])], 0.0)
    with pytest.raises(ValueError, match="1 to 64 columns"):
        _jsonrows.Plan([], 0.0)
    plan = _jsonrows.Plan([(b"v", 2, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0, 0.0, [])], 0.0)
    with pytest.raises(TypeError, match="initialised once"):
        plan.__init__([(b"w", 2, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0, 0.0, [])], 0.0)
    assert plan.log_odds(b'[{"v": 0.5}]') is not None
    with pytest.raises(ValueError, match="escapes"):
        _jsonrows.Plan([(b'v"', 2, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0, 0.0, [])], 0.0)


def test_decoded_requests_use_it_and_still_give_columns(model):
    """The service's decoder takes a common-case body without decoding it; a second model (a
    challenger) scores the same rows from the same body, and columns are decoded on demand."""
    pytest.importorskip("msgspec", reason="the serve extra is not installed")
    from oddsline.serve.columns import RowDecoder

    rows = [{"x": 1.0, "n": 3, "c": "a", "e": "p", "b": True, "d": False}, {**dict.fromkeys("xncbd"), "e": "q"}]
    body = json.dumps(rows).encode()
    decoded = RowDecoder(model.features.source_columns, model.json_row_scorer()).decode(body)
    assert decoded is not None and len(decoded) == 2 and decoded._records is None
    assert same_bits(model._scorer().log_odds_many(decoded, TransformReport()), python_path(model, body)[0])
    challenger = Model(model.features, model.target, model.coef * 2, intercept=0.1)
    alone = [challenger.predict_one(row).raw_probability for row in rows]
    assert same_bits(challenger.predict_rows(decoded, raw=True), alone)
    assert decoded.column("x") == (1.0, None) and decoded.row(1) == rows[1]
