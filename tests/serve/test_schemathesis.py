"""Property-based API testing from the OpenAPI schema (schemathesis, bounded examples): no request the schema
allows, and no malformed one, may produce a 5xx."""

import pytest
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip("schemathesis", reason="needs schemathesis (pip install schemathesis)")

from hyperalign.serve.app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def api_schema(tiny_index):
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(tiny_index))


def test_no_server_errors(api_schema):
    failures, statuses = [], []

    @settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call()
        statuses.append(response.status_code)
        if response.status_code >= 500:
            failures.append(f"{case.method} {case.path}: {response.status_code} {response.text[:200]}")

    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 4
    for operation in operations:
        given(case=operation.as_strategy())(check)()
    assert not failures, failures
    assert len(statuses) >= 4 * 10 and any(code == 200 for code in statuses) and any(400 <= c < 500 for c in statuses)
