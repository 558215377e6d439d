"""The service's settings: the store's settings (and through them the model's) plus HTTP knobs.

Values come from the environment (or a .env file); names are the field names in
UPPER_CASE, e.g. MAX_UPLOAD_BYTES=5242880.
"""

from typing import Literal

from pydantic import Field, SecretStr

from store.settings import StoreSettings


class ServiceSettings(StoreSettings):
    host: str = "127.0.0.1"  # HOST: interface uvicorn binds to
    port: int = Field(default=8000, ge=1, le=65535)  # PORT
    workers: int = Field(default=1, ge=1, le=64)  # WORKERS: uvicorn worker processes
    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)  # MAX_UPLOAD_BYTES, per file
    # UPLOAD_TIMEOUT_S: a request's whole body must arrive within this, else 408 (frees its slot)
    upload_timeout_s: float = Field(default=30.0, gt=0.0)
    max_batch_files: int = Field(default=32, ge=1, le=256)  # MAX_BATCH_FILES for /search/batch
    # MAX_SEARCHES_IN_FLIGHT per worker, counted once a search's upload has arrived: one more
    # search is answered 503 + Retry-After at once (service/middleware/admission.py)
    max_searches_in_flight: int = Field(default=64, ge=1)
    # MAX_UPLOAD_BYTES_HELD per worker: upload bytes in memory at once, over all requests (503 past it)
    max_upload_bytes_held: int = Field(default=128 * 1024 * 1024, ge=1)
    # UPLOAD_MIN_BYTES_PER_S after UPLOAD_GRACE_S: a slower body is cut off with 408
    upload_min_bytes_per_s: float = Field(default=1024.0, gt=0.0)
    upload_grace_s: float = Field(default=2.0, ge=0.0)
    # Preprocessing lanes (service/search/preprocess_pool.py): PREPROCESS_THREADS for light uploads; one
    # thread for uploads decoding to more than HEAVY_UPLOAD_SIZE pixels or samples, with at most
    # HEAVY_UPLOAD_QUEUE of them in its lane (503 past it); each upload may use
    # PREPROCESS_CPU_S of CPU (422 too_complex past it)
    preprocess_threads: int = Field(default=2, ge=1, le=64)
    heavy_upload_size: int = Field(default=4_000_000, ge=1)
    heavy_upload_queue: int = Field(default=4, ge=1)
    preprocess_cpu_s: float = Field(default=1.0, gt=0.0)
    # Micro-batching: concurrent uploads of one modality share a forward pass of at most
    # ENCODE_BATCH_MAX items; ENCODE_BATCH_WAIT_MS > 0 holds a pass open that long for company
    # (0: never wait, a lone request runs at once).
    encode_batch_max: int = Field(default=32, ge=1, le=1024)
    encode_batch_wait_ms: float = Field(default=0.0, ge=0.0, le=100.0)
    # READ_ONLY: POST and DELETE /items answer 403 read_only (the index stays as it is)
    read_only: bool = False
    # MAX_USER_ITEMS: items users may add in all; one more is answered 409 user_items_full (at most
    # 10,000: GET /items pages by offset, within Weaviate's 10,000 results per query)
    max_user_items: int = Field(default=1000, ge=0, le=10_000)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"  # LOG_LEVEL
    # API_KEY: when set, every route but /healthz and the web page needs it (service/middleware/security.py)
    api_key: SecretStr | None = None
    # CORS_ORIGINS: comma-separated origins allowed to call the API from a browser; none by default
    cors_origins: str = ""

    @property
    def cors_allow_list(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]
