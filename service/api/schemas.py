"""Pydantic models for every request and response, errors included (they feed /docs)."""

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from models.media_types import ACCEPTED
from models.modality import Modality

Target = Literal["auto", "image", "audio", "any"]
ResolvedTarget = Literal["image", "audio", "any"]


class ErrorBody(BaseModel):
    code: str = Field(examples=["invalid_media"], description="stable, machine-readable error code")
    message: str = Field(examples=["broken PNG image: image file is truncated"])


class ErrorResponse(BaseModel):
    error: ErrorBody


class QueryInfo(BaseModel):
    """What the service made of the upload."""

    modality: Modality
    format: str = Field(
        examples=["png"],
        description="format read from the file's magic bytes: png, jpeg, bmp, gif, webp, tiff, heif, "
        "avif; wav, flac, ogg, webm, mp3, mp4",
    )
    predicted_label: int = Field(ge=0, le=9, description="the digit the encoder's classifier head sees")
    confidence: float = Field(ge=0.0, le=1.0)


class ItemQueryInfo(BaseModel):
    """The indexed item a /similar search starts from."""

    model_config = ConfigDict(from_attributes=True)  # built from an store.Item

    id: UUID
    modality: Modality
    label: int


class TextQueryInfo(BaseModel):
    """The digit a typed query names."""

    text: str = Field(examples=["sieben"], description="the query as normalised: casefolded, no accents")
    digit: int = Field(ge=0, le=9, description="the digit it names; its class prototype is the query vector")


class IndexedItem(BaseModel):
    """The fields an indexed item shows everywhere; built from an store.Item or Hit.

    A base only: OpenAPI lists its subclasses (SearchResult, ItemResponse) with these fields inlined.
    """

    model_config = ConfigDict(from_attributes=True)

    id: UUID
    modality: Modality
    label: int = Field(ge=0, le=9)
    source: str = Field(examples=["fsdd"])
    name: str = Field(examples=["7_jackson_3.wav"])
    speaker: str | None = Field(default=None, examples=["jackson"])

    @computed_field(examples=["/items/0b6c.../media"])
    def media_url(self) -> str:
        return f"/items/{self.id}/media"


class SearchResult(IndexedItem):
    distance: float = Field(description="cosine distance, 0 = same direction, 2 = opposite")

    @field_validator("distance")
    @classmethod
    def _rounded(cls, value: float) -> float:
        return round(value, 6)


class Timings(BaseModel):
    decode: float = Field(description="bytes -> tensor, ms; the wait for a free preprocessing lane included")
    embed: float = Field(description="this upload's share of its batch's encoder forward pass, ms")
    search: float = Field(description="Weaviate nearVector query, ms")
    total: float = Field(
        description="from the handler's start to the search's answer, ms (waits for a forward pass "
        "included); a batch file's: decode + embed + search"
    )


class RankedResults(BaseModel):
    """What every search answers, whatever it started from (a base: OpenAPI inlines it)."""

    query: QueryInfo | ItemQueryInfo | TextQueryInfo  # each subclass names its one kind
    target: ResolvedTarget
    k: int
    offset: int = 0
    results: list[SearchResult]
    timings_ms: Timings


class SearchResponse(RankedResults):
    query: QueryInfo


class SimilarResponse(RankedResults):
    query: ItemQueryInfo


class TextSearchResponse(RankedResults):
    query: TextQueryInfo


class BatchSlot(BaseModel):
    """One uploaded file's outcome: a search response or an error, never both."""

    index: int = Field(description="position of the file in the request")
    filename: str | None = None
    status: int = Field(description="the HTTP status this file would have got on /search")
    result: SearchResponse | None = None
    error: ErrorBody | None = None


class BatchResponse(BaseModel):
    k: int
    target: Target
    results: list[BatchSlot]
    timings_ms: dict[str, float] = Field(description="total, ms")


class ItemResponse(IndexedItem):
    split: str
    model_version: str
    label_source: Literal["given", "predicted"] | None = Field(
        default=None, description="user items: the label as sent (given) or the model's class (predicted)"
    )

    @computed_field
    def similar_url(self) -> str:
        return f"/items/{self.id}/similar"


class UserItemResponse(IndexedItem):
    """An item a user added (POST /items): source is always "user"."""

    label_source: Literal["given", "predicted"] = Field(
        description="given: the label sent with the upload; predicted: the model's prototype class"
    )
    content_type: str = Field(examples=["image/png"], description="sniffed from the bytes; /media serves it")
    model_version: str
    created_ms: int = Field(description="when it was added, ms since the Unix epoch")


class UserItemPage(BaseModel):
    """One page of the user's items, newest first (offset paging)."""

    items: list[UserItemResponse]
    total: int = Field(description="user items in all")
    limit: int
    offset: int


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyResponse(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, bool] = Field(description="weaviate, collection, model_version, vector_index, encoders")
    reasons: list[str] = Field(default_factory=list, description="why the service is not ready")


class StatsResponse(BaseModel):
    model_version: str
    device: str
    weaviate_version: str | None
    collection: str
    total: int
    counts: dict[str, dict[int, int]] = Field(description="modality -> label -> number of items")
    indexed_model_versions: dict[str, int] = Field(description="model_version -> number of items")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring the error model for the given statuses."""
    descriptions = {
        400: "Broken content (truncated or undecodable file, decompression bomb, bad WAV, audio with no "
        "audio track, over 10 s, silent or shorter than 32 ms)",
        403: "READ_ONLY is set (read_only), or the item belongs to an indexed data set (not_user_item)",
        404: "Unknown item id",
        408: "The upload did not arrive within UPLOAD_TIMEOUT_S, or slower than UPLOAD_MIN_BYTES_PER_S",
        409: "MAX_USER_ITEMS user items are stored already (user_items_full)",
        413: "Upload larger than MAX_UPLOAD_BYTES",
        415: "Unsupported file type (the message lists the accepted ones)",
        422: "Invalid parameters, or an upload needing more than PREPROCESS_CPU_S of CPU (too_complex)",
        503: "Weaviate unreachable, timing out, or the index is missing; or more than "
        "MAX_SEARCHES_IN_FLIGHT searches, MAX_UPLOAD_BYTES_HELD upload bytes or HEAVY_UPLOAD_QUEUE "
        "large uploads at once (see Retry-After); POST /items also: no index to add to yet "
        "(index_missing)",
    }
    return {s: {"model": ErrorResponse, "description": descriptions.get(s, "Error")} for s in statuses}


UPLOAD_FORMATS = (
    f"{ACCEPTED}. The modality and format are read from the bytes, never from the name or the "
    "Content-Type. At most MAX_UPLOAD_BYTES; audio at most 10 s (4-192 kHz, up to 16 channels), "
    "pictures at most 40 megapixels."
)


def multipart_body(field: str, many: bool) -> dict[str, Any]:
    """openapi_extra for handlers that stream their multipart body themselves."""
    binary = {"type": "string", "format": "binary"}
    what = UPLOAD_FORMATS if not many else f"Up to MAX_BATCH_FILES files, each: {UPLOAD_FORMATS}"
    schema = (
        {"type": "array", "items": binary, "description": what} if many else {**binary, "description": what}
    )
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "required": [field], "properties": {field: schema}}
                }
            },
        }
    }
