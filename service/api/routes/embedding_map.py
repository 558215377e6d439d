"""GET /map (every indexed item in 2-D) and POST /map/project (where an upload lands on it)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, Field
from weaviate.collections import Collection

from models.encoders import LoadedEncoders
from models.preprocess import prepare
from service.api.deps import EncodersDep, ResourcesDep, SettingsDep, WeaviateDep
from service.embedding_map import EmbeddingMap, MapCache
from service.schemas import error_responses, multipart_body
from service.uploads import read_single_upload

router = APIRouter(prefix="/map", tags=["map"])


class MapPoint(BaseModel):
    id: str
    x: float
    y: float
    label: int = Field(ge=0, le=9)
    modality: Literal["image", "audio"]


class MapProjection(BaseModel):
    mean: list[float] = Field(description="subtract from a 128-d embedding first")
    components: list[list[float]] = Field(description="two rows: x = components[0] . (v - mean), y = ...")
    explained_variance_ratio: list[float]


class MapResponse(BaseModel):
    model_version: str
    count: int
    method: Literal["pca"]
    projection: MapProjection
    bounds: dict[str, list[float]] = Field(description="x and y as [min, max] over the points")
    points: list[MapPoint]


class ProjectedQuery(BaseModel):
    modality: Literal["image", "audio"]
    format: str
    predicted_label: int = Field(ge=0, le=9)
    confidence: float
    x: float
    y: float


async def map_cache(request: Request) -> MapCache:
    """One cache per app, created on first use (the app object outlives requests)."""
    state = request.app.state
    if getattr(state, "embedding_map", None) is None:
        state.embedding_map = MapCache()
    cache: MapCache = state.embedding_map
    return cache


MapCacheDep = Annotated[MapCache, Depends(map_cache)]


@router.get(
    "",
    response_model=MapResponse,
    responses={304: {"description": "Not modified (If-None-Match matched the ETag)"}, **error_responses(503)},
)
async def get_map(
    cache: MapCacheDep,
    resources: ResourcesDep,
    store: WeaviateDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Every indexed item placed by a 2-D PCA of its embedding, with the projection itself so
    that a client can place its own vectors (computed once per index state, then cached)."""
    version = resources.encoders.model_version
    emap: EmbeddingMap = await store.call(lambda: cache.get(store.collection, version))
    headers = {"ETag": emap.etag, "Cache-Control": "no-cache"}  # revalidate: the index can change
    if if_none_match is not None and emap.etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(emap.body, media_type="application/json", headers=headers)


def _project(
    encoders: LoadedEncoders, cache: MapCache, collection: Collection, data: bytes
) -> ProjectedQuery:
    prepared = prepare(data, encoders.config)
    embeddings, probs = encoders.classify(prepared.modality, prepared.tensor.unsqueeze(0))
    emap = cache.get(collection, encoders.model_version)
    x, y = emap.projection.place(embeddings[0])
    label = int(probs[0].argmax())
    return ProjectedQuery(
        modality=prepared.modality,
        format=prepared.format,
        predicted_label=label,
        confidence=round(float(probs[0, label]), 6),
        x=round(float(x), 5),
        y=round(float(y), 5),
    )


@router.post(
    "/project",
    response_model=ProjectedQuery,
    responses=error_responses(400, 408, 413, 415, 422, 503),
    openapi_extra=multipart_body("file", False),
)
async def project(
    request: Request,
    cache: MapCacheDep,
    encoders: EncodersDep,
    store: WeaviateDep,
    settings: SettingsDep,
) -> ProjectedQuery:
    """Where an uploaded image or WAV lands on the map (multipart field `file`)."""
    data = await read_single_upload(request, settings.max_upload_bytes, settings.upload_timeout_s)
    return await store.call(lambda: _project(encoders, cache, store.collection, data))
