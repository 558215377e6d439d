"""App factory and lifespan: `create_app()` builds the FastAPI app; nothing loads at import.

The lifespan loads the encoders and opens Weaviate once, keeps them on app.state for
the dependencies in api/deps.py, and closes them after `yield`.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from service.api.errors import install_error_handlers
from service.api.routes import docs, embedding_map, health, items, page, search, user_items
from service.app_resources import load_resources
from service.middleware.admission import SearchAdmissionMiddleware
from service.middleware.observability import Metrics, ObservabilityMiddleware
from service.middleware.security import install_security
from service.settings import ServiceSettings

DESCRIPTION = """
Upload a handwritten digit image and get spoken digits back, or upload a spoken digit
(WAV) and get handwritten digits. Both are embedded into one vector space and searched
in Weaviate. Every error is `{"error": {"code": ..., "message": ...}}`.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    resources = await run_in_threadpool(load_resources, app.state.settings, app.state.metrics)
    app.state.resources = resources
    try:
        yield
    finally:
        await resources.weaviate.aclose()
        await run_in_threadpool(resources.close)
        del app.state.resources


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    settings = settings or ServiceSettings()
    app = FastAPI(
        title="DigitBridge",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by routes/docs.py, under its own Content-Security-Policy
        redoc_url=None,
        # FastAPI's built-in OpenTelemetry: the service keeps its own metrics and log lines, and
        # the check whether a provider is configured cost ~3% of a search's event-loop time.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.metrics = Metrics()
    install_error_handlers(app)
    app.include_router(search.router)
    app.include_router(items.router)
    app.include_router(user_items.router)
    app.include_router(health.router)
    app.include_router(embedding_map.router)
    app.include_router(page.router)
    app.include_router(docs.router)  # before the mount: /static/swagger-ui/ is the docs' own
    app.mount("/static", page.files, name="static")
    app.add_middleware(SearchAdmissionMiddleware)  # innermost: after the key check, before routing
    install_security(app, settings)
    app.add_middleware(ObservabilityMiddleware, metrics=app.state.metrics)  # outermost: sees every answer
    return app
