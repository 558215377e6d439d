"""GET /map (every indexed item in 2-D) and POST /map/project (where an upload lands on it)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, Field

from service.api.deps import QueryEncoderDep, ResourcesDep, SettingsDep, WeaviateDep
from service.api.schemas import error_responses, multipart_body
from service.api.uploads import read_single_upload
from service.search.embedding_map import MapCache
from service.search.use_cases import query_info

router = APIRouter(prefix="/map", tags=["map"])


class MapPoint(BaseModel):
    id: str
    x: float
    y: float
    label: int = Field(ge=0, le=9)
    modality: Literal["image", "audio"]
    source: Literal["user"] | None = Field(
        default=None, description='"user" on items users added; absent otherwise'
    )


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


async def map_cache(resources: ResourcesDep) -> MapCache:
    return resources.embedding_map


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
    emap = await store.embedding_map(cache, resources.encoders.model_version)
    headers = {"ETag": emap.etag, "Cache-Control": "no-cache"}  # revalidate: the index can change
    if if_none_match is not None and emap.etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(emap.body, media_type="application/json", headers=headers)


@router.post(
    "/project",
    response_model=ProjectedQuery,
    responses=error_responses(400, 408, 413, 415, 422, 503),
    openapi_extra=multipart_body("file", False),
)
async def project(
    request: Request,
    cache: MapCacheDep,
    encoder: QueryEncoderDep,
    store: WeaviateDep,
    settings: SettingsDep,
) -> ProjectedQuery:
    """Where an uploaded picture or recording lands on the map (multipart field `file`): embedded like
    a search's upload (same admission, preprocessing lanes and forward passes)."""
    data = await read_single_upload(request, settings.max_upload_bytes, settings.upload_timeout_s)
    encoded = await encoder.encode(data)
    emap = await store.embedding_map(cache, encoder.encoders.model_version)
    x, y = emap.projection.place(encoded.embedding)
    return ProjectedQuery(**query_info(encoded).model_dump(), x=round(float(x), 5), y=round(float(y), 5))
