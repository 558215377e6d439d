"""`python -m launcher` (`make run`, the image's command): make sure the index is current, then serve.

The one place the indexer and the service meet; neither imports the other.

1. Connect to Weaviate (the embedded server is started here and stays up while we serve).
2. Index, into the collection we serve, when store.index_problems finds it not current for
   the loaded checkpoint (a second start finds it current and skips straight to serving).
   A partial index of the current version is completed by `make index`, which skips what
   is already stored.
3. Serve with uvicorn on HOST:PORT (WORKERS processes). Ctrl-C stops uvicorn gracefully,
   then closing our client stops the embedded Weaviate.
"""

import logging
import logging.config
import signal

import uvicorn
import weaviate

import store
from indexer import pipeline
from indexer.settings import IndexerSettings
from models.runtime import file_version
from service.logs import logging_config
from service.settings import ServiceSettings
from store import StoreSettings

log = logging.getLogger("launcher")


def indexer_settings(settings: ServiceSettings) -> IndexerSettings:
    """The indexer's settings for the index this service serves: the same Weaviate, collection,
    checkpoint and data (every StoreSettings field); batch size, sources etc. from the environment."""
    return IndexerSettings(**settings.model_dump(include=set(StoreSettings.model_fields)))


def ensure_index(client: weaviate.WeaviateClient, settings: ServiceSettings) -> bool:
    """Index when store.index_problems finds the index not current; True when it is (or now is)."""
    version = file_version(settings.checkpoint)
    problems = store.index_problems(client, settings.collection, version)
    if not problems:
        log.info("index is current for model version %s; not re-indexing", version)
        return True
    log.info("indexing with model version %s: %s", version, "; ".join(problems))
    report = pipeline.run(indexer_settings(settings), progress=True)
    for key, why in report.failures[:20]:
        log.error("not indexed: %s: %s", key, why)
    for problem in report.problems:
        log.error("index check failed: %s", problem)
    log.info(
        "indexed %d items (%d already there) in %.1fs",
        report.written,
        report.skipped,
        report.seconds["total"],
    )
    return report.ok


GRACEFUL_SHUTDOWN_S = 10  # on SIGTERM / Ctrl-C, requests in flight get this long to finish


def _stop_on_sigterm(signum: int, frame: object) -> None:
    # uvicorn handles SIGTERM gracefully, then raises it again; by default that would kill us
    # before the `finally` below closes our client, and the embedded server's next start
    # would take this clean stop for a crash. Turn it into the Ctrl-C path instead.
    raise KeyboardInterrupt


def serve(settings: ServiceSettings) -> None:
    uvicorn.run(
        "service.main:create_app",
        factory=True,  # each worker builds its own app (and lifespan) from the environment
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=logging_config(settings.log_level),
        access_log=False,  # the app logs one JSON line per request itself
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )


def main() -> int:
    settings = ServiceSettings()
    logging.config.dictConfig(logging_config(settings.log_level))
    if not settings.checkpoint.is_file():
        log.error(
            "checkpoint not found: %s (set CHECKPOINT, or train one with `make train`)", settings.checkpoint
        )
        return 2
    try:
        client = store.connect(settings, supervised=True)
    except store.StoreUnavailable as exc:
        log.error("Weaviate unavailable: %s", exc)
        return 2
    try:
        if not ensure_index(client, settings):
            log.error("indexing failed; fix the errors above (or run `make index`) and start again")
            return 1
        log.info("serving on http://%s:%d (docs at /docs)", settings.host, settings.port)
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
        serve(settings)
    except KeyboardInterrupt:
        pass  # uvicorn re-raises the Ctrl-C it handled; shutting down is what we want
    finally:
        client.close()  # last user of the embedded server: stops it cleanly
    log.info("stopped")
    return 0
