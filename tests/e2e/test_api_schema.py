"""The ingestion API against its own OpenAPI document, served by the running local stack at /openapi.json.

schemathesis generates requests from the document (valid and invalid bodies, headers, content types) and
sends them through the real HTTP API: no response may be a 5xx, and every response must be one the document
declares, in its declared shape.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.test_github_label_slice import http


def test_openapi_document_is_served(local_stack: dict[str, Any]) -> None:
    status, document = http("GET", local_stack["api_url"] + "/openapi.json")
    assert status == 200
    assert document["openapi"].startswith("3.")
    assert {"/webhooks/github", "/webhooks/slack", "/webhooks/standard", "/health"} <= set(document["paths"])


def test_api_never_answers_5xx_and_keeps_to_its_document(local_stack: dict[str, Any]) -> None:
    # schemathesis' pytest plugin does not load under pytest 9 yet, so the operations are driven directly.
    schema = schemathesis.openapi.from_url(local_stack["api_url"] + "/openapi.json")
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the document has an operation schemathesis cannot use: {result}"
        operations.append(result.ok())
    assert len(operations) >= 4
    statuses: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            statuses.append(case.call_and_validate(checks=checks).status_code)

        check()
    assert len(statuses) >= 4 * 20, "schemathesis sent too few requests to mean anything"
    assert not [status for status in statuses if status >= 500]
    print("schemathesis statuses:", {status: statuses.count(status) for status in sorted(set(statuses))})
