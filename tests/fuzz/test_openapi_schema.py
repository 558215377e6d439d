"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis), through a
real uvicorn: whatever the schema lets a client send (and, negatively, what it forbids), the
answer is never a 5xx and always matches the schema (status, content type, body, headers)."""

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.main import create_app
from service.settings import ServiceSettings
from tests.service.helpers import LiveServer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
MAX_EXAMPLES = 25  # per operation and phase: bounds the whole module to well under a minute


# The app's schema, built without serving (create_app loads nothing); the test below checks
# that the live server serves exactly this document.
OPENAPI = create_app(ServiceSettings()).openapi()
schema = schemathesis.openapi.from_dict(OPENAPI)
# valid requests and ones the schema forbids (wrong types, out-of-range k, bad UUIDs): both must
# be answered, the forbidden ones with a documented 4xx
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE], deterministic=True
)


def test_the_fuzzed_schema_is_the_served_one(live_server: LiveServer) -> None:
    served = httpx.get(f"{live_server.url}/openapi.json", timeout=30)
    assert served.status_code == 200
    assert served.json() == OPENAPI


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_5xx_and_every_answer_matches_the_schema(live_server: LiveServer, case: schemathesis.Case) -> None:
    case.call_and_validate(base_url=live_server.url, checks=CHECKS, timeout=30)
