"""Fuzzing fixtures: the service fixtures of tests/service (the session's real Weaviate, the
small index, the app behind a real uvicorn), shared rather than copied.

schemathesis makes one test per API operation, named `test_...[GET /path]`; pytest 9.2 builds
a test's nodeid from its original name, so all of them share one nodeid. pytest-xdist (`make
test`) hands tests out by nodeid and would run only the first: each gets its operation back
in its id here (`item.id` is what `nodeid` reads; pytest has no public setter for it).
"""

import pytest

from tests.service.conftest import live_server, service_checkpoint, small_index  # noqa: F401


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        label = getattr(item, "operation_label", None)
        if label is not None and item.id.params is None:
            item._id = item.id.with_params(label)  # type: ignore[attr-defined]
