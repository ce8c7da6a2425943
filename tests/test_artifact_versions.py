"""Every model-file format version ever written stays loadable: tests/data keeps one file per version
with the probabilities it gave when it was written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

import oddsline
from oddsline.artifact import FORMAT_VERSION

DATA = Path(__file__).parent / "data"


def test_every_kept_format_version_loads_and_scores_as_it_did():
    kept = sorted(DATA.glob("format-v*.odl"))
    assert kept, "no kept artifacts"
    assert {int(p.stem.split("-v")[1]) for p in kept} == set(range(1, FORMAT_VERSION + 1))
    for path in kept:
        expected = json.loads(path.with_suffix(".expected.json").read_text())
        model = oddsline.load(path)
        probability = model.predict_proba(pa.Table.from_pylist(expected["rows"]))[:, 1]
        np.testing.assert_allclose(probability, expected["probability"], rtol=1e-12)
        assert model.threshold == expected["threshold"]
