"""Schemathesis over /openapi.json: every documented route, fed generated requests, never answers 5xx."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
import oddsline  # noqa: E402
from conftest import DATA  # noqa: E402
from oddsline.serve import Settings, create_app  # noqa: E402
from oddsline.serve.models import Served  # noqa: E402


def _app():
    table = oddsline.read_table(DATA / "telco_churn.csv")
    model = oddsline.train(table, target="churn", positive="Yes", test_size=0.0)
    return create_app([Served("churn", "1", "churn", model)], Settings(max_rows=100))


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_route_answers_5xx(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
