"""Fuzzing fixtures: the service fixtures of tests/service (the session's real Weaviate, the
small index, the app behind a real uvicorn), shared rather than copied."""

from tests.service.conftest import live_server, service_checkpoint, small_index  # noqa: F401
