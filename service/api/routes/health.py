"""GET /healthz, /readyz, /stats, /metrics."""

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import store
from service.api.deps import ResourcesDep
from service.api.schemas import HealthResponse, ReadyResponse, StatsResponse, error_responses
from service.app_resources import AppResources
from store import StoreUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    """Liveness: the process is up and the event loop answers."""
    return HealthResponse()


CHECKS = ("encoders", "weaviate", "collection", "model_version", "vector_index")


def _readiness(resources: AppResources) -> ReadyResponse:
    """Weaviate answers, the collection is current for the loaded model (store.index_problems),
    and its vector index holds every object (VectorIndexWatch)."""
    checks = {k: k == "encoders" for k in CHECKS}
    reasons: list[str] = []
    supervised = store.supervisor_status(resources.settings)
    if supervised is not None and not supervised.up:
        # the embedded server is being restarted, or its vector index verified and repaired
        return ReadyResponse(
            status="not_ready", checks=checks, reasons=[f"embedded Weaviate: {supervised.state}"]
        )
    try:
        client = resources.weaviate.client
        checks["weaviate"] = bool(client.is_ready())
        if not checks["weaviate"]:
            reasons.append("Weaviate does not report ready")
        else:
            name = resources.settings.collection
            checks["collection"] = bool(client.collections.exists(name))
            reasons = store.index_problems(client, name, resources.encoders.model_version)
            checks["model_version"] = checks["collection"] and not reasons
            if checks["model_version"]:
                reasons = resources.vector_index_watch.problems(client, name)
                checks["vector_index"] = not reasons
    except Exception as exc:  # noqa: BLE001 - any failure here means "not ready", with the reason
        reasons.append(f"Weaviate unreachable: {exc}")
    ready = all(checks.values())
    return ReadyResponse(status="ready" if ready else "not_ready", checks=checks, reasons=reasons)


@router.get("/readyz", response_model=ReadyResponse, responses={503: {"model": ReadyResponse}})
async def readyz(resources: ResourcesDep) -> JSONResponse:
    """Readiness: 200 only when search can work; otherwise 503 with the reasons."""
    try:
        report = await resources.weaviate.call(_readiness, resources, probe=True)
    except StoreUnavailable as exc:  # the deadline passed
        checks = {k: k == "encoders" for k in CHECKS}
        report = ReadyResponse(status="not_ready", checks=checks, reasons=[str(exc)])
    if report.status == "ready":
        resources.weaviate.recovered()
    return JSONResponse(report.model_dump(), status_code=200 if report.status == "ready" else 503)


def _stats(resources: AppResources) -> StatsResponse:
    collection = resources.weaviate.collection
    per_modality = store.counts(collection)
    versions = store.model_versions(collection)
    if resources.weaviate_version is None:
        resources.weaviate_version = str(resources.weaviate.client.get_meta().get("version"))
    return StatsResponse(
        model_version=resources.encoders.model_version,
        device=str(resources.encoders.device),
        weaviate_version=resources.weaviate_version,
        collection=resources.settings.collection,
        total=sum(n for labels in per_modality.values() for n in labels.values()),
        counts=per_modality,
        indexed_model_versions=versions,
    )


@router.get("/stats", response_model=StatsResponse, responses=error_responses(503))
async def stats(resources: ResourcesDep) -> StatsResponse:
    """Items per modality and label, the model version and device, Weaviate's version."""
    return await resources.weaviate.call(_stats, resources)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: request counts and latency histograms per route and status."""
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
