"""GET /healthz, /readyz, /stats, /metrics."""

import threading
import time

import weaviate
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import store
from service.api.deps import ResourcesDep
from service.app_resources import AppResources
from service.schemas import HealthResponse, ReadyResponse, StatsResponse, error_responses
from store import StoreUnavailable

router = APIRouter(tags=["health"])

RECHECK_S = 30.0  # a clean verdict on the vector index stands this long, unless objects come or go
FIRST_VERDICT_WAIT_S = 2.0  # the first poll waits this long for the first verdict


class VectorIndexWatch:
    """Is the vector index short of the object store (objects no search can return)?

    The exact check (`store.vector_index_shortfall`, about one query per 1,000 objects) runs in
    a background thread, one at a time; a readiness poll costs one request (the shards' object
    counts and indexing queues) and reads the last verdict. A clean verdict is redone after
    RECHECK_S or when the object count changes; a bad one on every poll, so a repair is seen
    at once. While vectors are queued for indexing (ASYNC_INDEXING) nothing is judged.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._verdict: list[str] | None = None  # reasons; [] = every object is in the index
        self._basis = (-1, 0.0)  # (objects, time.monotonic()) of that verdict
        self._worker: threading.Thread | None = None

    def problems(self, client: weaviate.WeaviateClient, collection: str) -> list[str]:
        objects, queued, _ = store.indexing_state(client, collection)
        if queued:
            return self._verdict or []
        with self._lock:
            fresh = self._verdict == [] and self._basis[0] == objects
            if not (fresh and time.monotonic() - self._basis[1] < RECHECK_S) and not (
                self._worker is not None and self._worker.is_alive()
            ):
                self._worker = threading.Thread(
                    target=self._check, args=(client, collection), name="vector-index-watch", daemon=True
                )
                self._worker.start()
            worker, verdict = self._worker, self._verdict
        if verdict is None and worker is not None:
            worker.join(FIRST_VERDICT_WAIT_S)
            verdict = self._verdict
        if verdict is None:
            return [f"checking that the vector index of {collection} holds all {objects} objects"]
        return verdict

    def _check(self, client: weaviate.WeaviateClient, collection: str) -> None:
        try:
            objects, missing = store.vector_index_shortfall(client, collection)
            verdict = []
            if missing:
                verdict = [
                    f"the vector index of {collection} is short of the object store: {len(missing)} of "
                    f"{objects} objects are in no search result (e.g. {missing[0]}); "
                    "`make index` re-indexes them"
                ]
        except Exception as exc:  # noqa: BLE001 - no verdict is a reason too; the next poll retries
            objects, verdict = -1, [f"checking the vector index of {collection} failed: {exc}"]
        with self._lock:
            self._verdict, self._basis = verdict, (objects, time.monotonic())


_watches: dict[tuple[str, str], VectorIndexWatch] = {}
_watches_lock = threading.Lock()


def vector_index_watch(resources: AppResources) -> VectorIndexWatch:
    """One watch per Weaviate and collection in this process."""
    key = (resources.settings.describe(), resources.settings.collection)
    with _watches_lock:
        return _watches.setdefault(key, VectorIndexWatch())


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
                reasons = vector_index_watch(resources).problems(client, name)
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
