"""GET /healthz, /readyz, /stats, /metrics."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.api.deps import ResourcesDep
from service.api.schemas import HealthResponse, ReadyResponse, StatsResponse, error_responses

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    """Liveness: the process is up and the event loop answers."""
    return HealthResponse()


@router.get("/readyz", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
async def readyz(resources: ResourcesDep) -> JSONResponse:
    """Readiness: 200 only when search can work; otherwise 503 with the reasons."""
    store_report = await resources.weaviate.readiness(
        resources.encoders.model_version, resources.vector_index_watch
    )
    checks = {"encoders": True, **store_report.checks}  # loaded before the app serves at all
    ready = all(checks.values())
    report = ReadyResponse(
        status="ready" if ready else "not_ready", checks=checks, reasons=store_report.reasons
    )
    return JSONResponse(report.model_dump(), status_code=200 if ready else 503)


@router.get("/stats", response_model=StatsResponse, responses=error_responses(503))
async def stats(resources: ResourcesDep) -> StatsResponse:
    """Items per modality and label, the model version and device, Weaviate's version."""
    index = await resources.weaviate.stats()
    return StatsResponse(
        model_version=resources.encoders.model_version,
        device=str(resources.encoders.device),
        weaviate_version=index.weaviate_version,
        collection=resources.settings.collection,
        total=sum(n for labels in index.counts.values() for n in labels.values()),
        counts=index.counts,
        indexed_model_versions=index.model_versions,
    )


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: request counts and latency histograms per route and status."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
