"""schemathesis against /api/v1/openapi.json: the API does what its OpenAPI document says.

Run through schemathesis's Python API on the Flask app over WSGI (its pytest loader does not
work with pytest 9), once with valid requests and once with invalid ones, every operation in
the document, a bounded number of examples each.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.test_public import build_world

EXAMPLES = 12


def operations(schema) -> list:
    found = []
    for result in schema.get_all_operations():
        found.append(result.ok())
    return found


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_does_what_its_openapi_document_says(app, db_session, mode):
    build_world(db_session)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    tested = []
    for operation in operations(schema):
        if (
            mode == GenerationMode.NEGATIVE
            and not operation.path_parameters
            and not operation.query
        ):
            continue  # nothing to get wrong

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def call(case):
            case.call_and_validate()

        try:
            call()
        except Unsatisfiable:
            # Only a free-text path parameter: every string is valid, none can be invalid.
            assert mode == GenerationMode.NEGATIVE, operation.label
            continue
        tested.append(operation.label)
    # Every operation (schemathesis leaves out the document's own address), and in negative
    # mode every one that has a parameter to get wrong.
    assert len(tested) == (10 if mode == GenerationMode.POSITIVE else 7), tested
