"""Choosing the positive class and encoding the target, with errors that say what to pass."""

from __future__ import annotations

import pyarrow as pa
import pytest

from oddsline import TargetError
from oddsline.target import resolve_classes, resolve_target


@pytest.mark.parametrize(
    ("values", "positive"),
    [(["Yes", "No", "No"], "Yes"), ([0, 1, 0], 1), ([True, False, False], True), (["good", "bad", "good"], "bad")],
)
def test_event_like_value_is_positive(values, positive):
    target = resolve_target(pa.table({"y": values}), "y")
    assert target.positive == positive


def test_rarer_class_is_positive_when_no_word_decides():
    target = resolve_target(pa.table({"y": ["cat", "dog", "dog"]}), "y")
    assert target.positive == "cat" and "rarer" in target.positive_reason


def test_explicit_positive_on_a_many_valued_target_is_one_vs_rest():
    table = pa.table({"y": ["a", "b", "c", "a"]})
    target = resolve_target(table, "y", "a")
    assert list(target.encode(table)) == [1.0, 0.0, 0.0, 1.0]


def test_positive_given_as_text_matches_numbers_and_case():
    assert resolve_target(pa.table({"y": [0, 1]}), "y", "1").positive == 1
    assert resolve_target(pa.table({"y": ["Yes", "No"]}), "y", "yes").positive == "Yes"


def test_errors():
    with pytest.raises(TargetError, match="not in the table"):
        resolve_target(pa.table({"y": [0, 1]}), "label")
    with pytest.raises(TargetError, match="has 3 values .* --positive"):
        resolve_target(pa.table({"y": ["a", "b", "c"]}), "y")
    with pytest.raises(TargetError, match="--positive 'z' never occurs"):
        resolve_target(pa.table({"y": ["a", "b"]}), "y", "z")
    with pytest.raises(TargetError, match="only one value"):
        resolve_target(pa.table({"y": ["a", "a"]}), "y")
    target = resolve_target(pa.table({"y": ["a", "b"]}), "y")
    with pytest.raises(TargetError, match="value\\(s\\) \\['c'\\] besides"):
        target.encode(pa.table({"y": ["a", "c"]}))
    with pytest.raises(TargetError, match="empty in 1 row"):
        target.encode(pa.table({"y": ["a", None]}))


def test_a_continuous_target_is_refused_with_the_derivation_to_make():
    table = pa.table({"delay": [0.5, 12.0, 3.25, 40.0, 7.5], "x": [1, 2, 3, 4, 5]})
    with pytest.raises(TargetError, match=r"'delay' looks continuous \(5 distinct numbers from 0.5 to 40\); derive"):
        resolve_target(table, "delay")
    counts = pa.table({"visits": list(range(30)) * 2})
    with pytest.raises(TargetError, match="looks continuous"):
        resolve_classes(counts, "visits")
    few = pa.table({"rating": [1, 2, 3, 1, 2, 3]})  # three integer classes stay classes
    assert resolve_classes(few, "rating").classes == [1, 2, 3]
