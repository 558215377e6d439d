"""Is the vector index short of the object store? A cheap answer for every readiness poll."""

import logging
import threading
import time

import weaviate

import store

log = logging.getLogger("service")

RECHECK_S = 30.0  # a clean verdict on the vector index stands this long, unless objects come or go
FIRST_VERDICT_WAIT_S = 2.0  # the first poll waits this long for the first verdict


class VectorIndexWatch:
    """Is the vector index short of the object store (objects no search can return)?

    The exact check (`store.vector_index_shortfall`, about one query per 1,000 objects) runs in
    a background thread, one at a time; a readiness poll costs one request (the shards' object
    counts and indexing queues) and reads the last verdict. A clean verdict is redone after
    RECHECK_S or when the object count changes; a bad one on every poll, so a repair is seen
    at once. While vectors are queued for indexing (ASYNC_INDEXING), and until the first
    verdict (the first poll waits FIRST_VERDICT_WAIT_S for it), nothing is judged.
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
        # No verdict yet (a big index takes a while): not judged, as while vectors are queued.
        # The supervisor already verified the index after an unclean stop before calling it up.
        return verdict or []

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
        except Exception as exc:  # noqa: BLE001 - a failed check says nothing of the index
            # Weaviate's own trouble is readiness's other checks' to report; the next poll retries
            log.warning("checking the vector index of %s failed: %s", collection, exc)
            return
        with self._lock:
            self._verdict, self._basis = verdict, (objects, time.monotonic())
