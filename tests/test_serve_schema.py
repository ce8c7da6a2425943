"""Schemathesis over /openapi.json: every documented route, fed generated requests (the predict route's
from the served model's columns), never answers 5xx, and every answer conforms to the document: a
documented status, content type and body (errors are {"error", "field"}, never FastAPI's {"detail"}).
Every schema-violating request is refused (a boolean for a numeric column among them: 422), with 413
counted as a refusal (too many rows for the declared maxItems). One check is left out: that every
schema-valid request is accepted. A row that is valid JSON of the right types may still be refused (a
number as text that is not a number, an empty CSV), by design."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

import oddsline  # noqa: E402
from conftest import DATA  # noqa: E402
from oddsline.serve import Settings, create_app  # noqa: E402
from oddsline.serve.models import Served  # noqa: E402


def _app():
    table = oddsline.read_table(DATA / "telco_churn.csv")
    model = oddsline.train(table, target="churn", positive="Yes", test_size=0.0)
    return create_app([Served("churn", "1", "churn", model)], Settings(max_rows=100))


# A refusal is any 4xx a client can act on; schemathesis' default list lacks 413 (too many rows).
_REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
_CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": _REFUSALS}}}
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _app(), config=_CONFIG)


@schema.parametrize()
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_route_answers_5xx_and_every_answer_is_documented(case):
    response = case.call_and_validate(excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500, (case.method, case.path, response.text[:300])


def test_the_document_describes_the_rows_and_the_real_error_body():
    document = _app().openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and schemas["Error"]["required"] == ["error", "field"]
    row = schemas["Row"]
    assert row["properties"]["tenure"]["type"][0] == "number"
    assert "contract" in row["required"] and "churn" not in row["properties"]
    predict = document["paths"]["/v1/models/{name}/predict"]["post"]
    assert predict["requestBody"]["required"]
    assert {"400", "404", "413", "422", "503", "504"} <= set(predict["responses"])


def test_the_document_lists_the_statuses_answered_before_the_app_and_the_mlflow_409():
    """408, 414 and 431 come from the HTTP layer on any route; /invocations answers 409 when several
    models are served: a client generated from the document knows each."""
    document = _app().openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert {"408", "414", "431"} <= set(operation["responses"]), (method, path)
    assert "409" in document["paths"]["/invocations"]["post"]["responses"]
