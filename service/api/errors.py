"""Every failure leaves the service as JSON {"error": {"code", "message"}}.

Client mistakes map to 4xx (each kind of models.media_errors error to its status in
MEDIA_STATUS), the search's own errors to theirs in SEARCH_ERRORS, an unreachable or slow
Weaviate to 503 + Retry-After, and only genuine bugs reach the catch-all 500, which logs the
traceback. `install_error_handlers` is the one place the handlers are registered.
"""

import logging
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from weaviate.exceptions import WeaviateBaseError

from models.cpu_budget import TooComplexError
from models.media_errors import CorruptMediaError, MediaError, MediaTooLargeError, UnsupportedMediaError
from service.search.errors import (
    HeavyLaneFull,
    IndexMissing,
    ItemNotFound,
    MapUnavailable,
    NotUserItem,
    ReadOnly,
    SearchError,
    UnknownDigitWord,
    UserItemsFull,
)
from store import StoreUnavailable

log = logging.getLogger("service.errors")

RETRY_AFTER_S = 5  # how long a client should wait when Weaviate is down

# The HTTP status of each kind of media error (models keeps the errors and their codes,
# the service decides what they mean in HTTP). A subclass not listed takes its base's.
MEDIA_STATUS: dict[type[MediaError], int] = {
    MediaError: 400,
    CorruptMediaError: 400,
    UnsupportedMediaError: 415,
    MediaTooLargeError: 413,
    TooComplexError: 422,
}

_HTTP_CODES = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_parameters",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An error the service raises itself, already mapped to a status and a code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def media_status(exc: MediaError) -> int:
    """The HTTP status of a media error: its own class's, else the nearest base class's."""
    return next(MEDIA_STATUS[cls] for cls in type(exc).__mro__ if cls in MEDIA_STATUS)


OVERLOADED_RETRY_AFTER_S = 1  # searches are short: a second is plenty for a slot to free up
MAP_RETRY_AFTER_S = 5  # the index is being filled: the map can be drawn once it holds items


@dataclass(frozen=True)
class HttpMeaning:
    """What an error is in HTTP: a status, a stable code, and for 503s when to try again."""

    status: int
    code: str
    retry_after_s: int | None = None

    def error(self, message: str) -> ApiError:
        headers = None if self.retry_after_s is None else {"Retry-After": str(self.retry_after_s)}
        return ApiError(self.status, self.code, message, headers)


OVERLOADED = HttpMeaning(503, "overloaded", OVERLOADED_RETRY_AFTER_S)
UNAVAILABLE = HttpMeaning(503, "weaviate_unavailable", RETRY_AFTER_S)

# The HTTP meaning of each error the search side raises (service/search/errors.py); the search
# keeps the message, this table the status and code. A subclass not listed takes its base's.
SEARCH_ERRORS: dict[type[SearchError], HttpMeaning] = {
    ItemNotFound: HttpMeaning(404, "not_found"),
    MapUnavailable: HttpMeaning(503, "map_unavailable", MAP_RETRY_AFTER_S),
    HeavyLaneFull: OVERLOADED,
    UnknownDigitWord: HttpMeaning(422, "unknown_digit_word"),
    ReadOnly: HttpMeaning(403, "read_only"),
    NotUserItem: HttpMeaning(403, "not_user_item"),
    UserItemsFull: HttpMeaning(409, "user_items_full"),
    IndexMissing: HttpMeaning(503, "index_missing", MAP_RETRY_AFTER_S),
}


def search_error(exc: SearchError) -> ApiError:
    """The HTTP error of a search error: its own class's entry, else the nearest base class's."""
    meaning = next(SEARCH_ERRORS[cls] for cls in type(exc).__mro__ if cls in SEARCH_ERRORS)
    return meaning.error(exc.message)


def overloaded(message: str) -> ApiError:
    """This worker is full (searches, upload bytes, large uploads): retry shortly."""
    return OVERLOADED.error(message)


def unavailable(message: str) -> ApiError:
    return UNAVAILABLE.error(message)


def _describe_validation(errors: list[Any]) -> str:
    """FastAPI's error list -> one readable sentence: 'query.k: Input should be ...'."""
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid")))
    return "; ".join(parts) or "invalid request parameters"


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.headers)


async def _search_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SearchError)
    err = search_error(exc)
    return error_response(err.status, err.code, err.message, err.headers)


async def _media_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MediaError)
    return error_response(media_status(exc), exc.code, exc.message)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, "invalid_parameters", _describe_validation(list(exc.errors())))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))


async def _store_unavailable(_: Request, exc: Exception) -> JSONResponse:
    log.warning("weaviate unavailable: %s", exc)
    err = unavailable(f"the search index is unavailable, retry later ({exc})")
    return error_response(err.status, err.code, err.message, err.headers)


async def _weaviate_error(_: Request, exc: Exception) -> JSONResponse:
    # The store maps known failures to StoreUnavailable; anything else from the client
    # library (timeouts, closed connection, missing collection) is still the backend's fault.
    log.warning("weaviate error: %r", exc)
    err = unavailable(f"the search index failed to answer, retry later ({type(exc).__name__})")
    return error_response(err.status, err.code, err.message, err.headers)


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error; the incident was logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(SearchError, _search_error)
    app.add_exception_handler(MediaError, _media_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(StoreUnavailable, _store_unavailable)
    app.add_exception_handler(WeaviateBaseError, _weaviate_error)
    app.add_exception_handler(TimeoutError, _store_unavailable)
    app.add_exception_handler(Exception, _bug)
