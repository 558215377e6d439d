"""The search routes' query parameters (k, target, offset, max_distance, order): one pydantic
model validates them in one call, and the same model documents them in OpenAPI.

Declared one by one as FastAPI `Query` parameters they cost ~8% of a search's event-loop time
(FastAPI looks each one up and checks its annotation on every request; profile in
BENCHMARKS.md). Errors keep FastAPI's shape: a RequestValidationError located at
("query", name), answered 422 `invalid_parameters` like any other.
"""

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.api.errors import ApiError
from service.api.schemas import Target
from service.search.use_cases import Order, SearchParams

# Weaviate answers at most 10,000 results per query (QUERY_MAXIMUM_RESULTS); keep offset + k below it.
MAX_OFFSET = 9_800


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    k: int = Field(default=5, ge=1, le=100, description="number of results")
    target: Target = Field(
        default="auto", description="modality to search: auto = the other one than the upload's, any = both"
    )
    offset: int = Field(default=0, ge=0, le=MAX_OFFSET, description="skip this many results (paging)")
    max_distance: float | None = Field(
        default=None, ge=0.0, le=2.0, description="drop results farther than this cosine distance"
    )
    order: Order = Field(
        default="nearest", description="nearest first, or farthest = the most dissimilar items first"
    )


DEFAULTS = SearchParams(**SearchQuery().model_dump())


def openapi_parameters() -> dict[str, Any]:
    """The query parameters as OpenAPI lists them (a route's `openapi_extra`)."""
    schema = SearchQuery.model_json_schema(ref_template="#/components/schemas/{model}")
    parameters = []
    for name, prop in schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        parameters.append(
            {"name": name, "in": "query", "required": False, "description": description, "schema": prop}
        )
    return {"parameters": parameters}


async def search_params(request: Request) -> SearchParams:
    query = request.scope["query_string"]
    if not query:
        return DEFAULTS  # the common case: nothing to parse
    try:
        parsed = SearchQuery.model_validate(dict(request.query_params))  # a repeated name: the last wins
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    if parsed.order == "farthest" and parsed.max_distance is not None:
        raise ApiError(422, "invalid_parameters", "max_distance applies to order=nearest only")
    return SearchParams(**parsed.model_dump())


SearchParamsDep = Annotated[SearchParams, Depends(search_params)]
