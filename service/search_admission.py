"""Back-pressure: at most MAX_SEARCHES_IN_FLIGHT searches at a time per worker process.

One more gets 503 + Retry-After at once instead of waiting in an unbounded queue (for
threads, the encoder, Weaviate). A search counts from the moment its request reaches the
route until its answer is ready, upload included, so the limit also bounds the upload bytes
a worker holds (at most MAX_SEARCHES_IN_FLIGHT x MAX_UPLOAD_BYTES x files per request).
"""

from service.http_errors import ApiError

OVERLOADED_RETRY_AFTER_S = 1  # searches are short: a second is plenty for a slot to free up


class SearchAdmission:
    """Counts the searches in flight. Used from the event loop only, so it needs no lock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def enter(self) -> None:
        """Take a slot, or raise the 503 that tells the client to come back shortly."""
        if self.in_flight >= self.limit:
            raise ApiError(
                503,
                "overloaded",
                f"{self.limit} searches are already in flight (MAX_SEARCHES_IN_FLIGHT); retry shortly",
                {"Retry-After": str(OVERLOADED_RETRY_AFTER_S)},
            )
        self.in_flight += 1

    def leave(self) -> None:
        self.in_flight -= 1
