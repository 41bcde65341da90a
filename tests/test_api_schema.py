"""The JSON API keeps the promises of its own OpenAPI description.

Schemathesis reads the live /api/v1/openapi.json through the production WSGI
application and generates requests from it: valid ones must get answers that
match the documented schemas, status codes and content types; invalid ones
must be refused with a documented 4xx and the JSON error, never a 5xx.
"""

import pytest
import schemathesis
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from troubleshooter.openapi import openapi_document
from troubleshooter.paste import looks_binary
from troubleshooter.wsgi import application

# Schemathesis does not test the operation that serves the description itself.
OPERATIONS = [
    (path, method.upper())
    for path, methods in openapi_document("http://testserver/")["paths"].items()
    for method in methods
    if path != "/api/v1/openapi.json"
]
EXAMPLES = {GenerationMode.POSITIVE: 20, GenerationMode.NEGATIVE: 20}


def paste_refused_only_as_documented(ctx, response, case):
    """A schema-valid paste is read, unless it is one of the refusals the
    description names in words because a schema cannot: mostly control
    characters (400 not_text), over 1 MB (413) or over the rate limit (429)."""
    status = response.status_code
    if status < 300 or status in (413, 429):
        return

    error = response.json()["error"]
    assert (status, error["code"]) == (400, "not_text"), error
    assert looks_binary(case.body["text"]), case.body["text"]


@pytest.fixture(autouse=True)
def _forget_rate_limits():
    yield
    cache.clear()


@pytest.fixture
def api_schema(reference):
    # Loaded from the running application, so a view and its description
    # cannot drift apart unnoticed.
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


def test_the_description_lists_every_json_operation(api_schema):
    listed = {
        (operation.path, operation.method.upper())
        for operation in (r.ok() for r in api_schema.get_all_operations())
    }

    assert listed == set(OPERATIONS)
    assert {("/api/v1/check", "GET"), ("/api/v1/parse", "POST")} <= listed


@pytest.mark.parametrize("mode", list(EXAMPLES), ids=lambda mode: mode.value)
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_every_operation_answers_as_its_description_says(
    api_schema, path, method, mode
):
    operation = api_schema[path][method]

    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def answers_as_described(case):
        # The WSGI test client does not undo gzip, so ask for plain bytes.
        case.call_and_validate(headers={"Accept-Encoding": "identity"}, **checks)

    checks = {}
    if (path, mode) == ("/api/v1/parse", GenerationMode.POSITIVE):
        checks = {
            "excluded_checks": [positive_data_acceptance],
            "additional_checks": [paste_refused_only_as_documented],
        }

    answers_as_described()
