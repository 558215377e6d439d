"""The Weaviate side of DigitBridge: settings, connection, the `Digit` collection and its queries.

Both the indexer (writes) and the service (reads) import this module, so the schema and the
connection logic exist once.

Connection modes
----------------
* ``WEAVIATE_URL`` set: connect to that server (compose, a cluster, a managed instance) with
  ``WEAVIATE_GRPC_PORT`` on the same host (TLS for both when the URL is https) and, when set,
  ``WEAVIATE_API_KEY``.
* ``WEAVIATE_URL`` unset ("embedded"): run a real Weaviate server on 127.0.0.1:``WEAVIATE_PORT``
  (gRPC ``WEAVIATE_GRPC_PORT``), data under ``WEAVIATE_DATA_DIR``, telemetry off, no modules.
  The binary is the one weaviate-client's embedded mode runs,
  ``~/.cache/weaviate-embedded/weaviate-v<version>-<sha256("v<version>")>``; ``make weaviate``
  builds it from the Go module because this machine cannot download the release.

Sharing one embedded server
---------------------------
What weaviate-client 4.23.1 does by itself (``weaviate/embedded.py``, ``EmbeddedV4``):
``connect_to_embedded`` *refuses* to start (``WeaviateStartUpError``) when something already
listens on its ports, and ``client.close()`` terminates the server it started, even while other
processes still use it. So the indexer and the service could not share a server that way.

``connect`` therefore keeps a small lease registry next to the data (``<data dir>/.leases/``,
one file per open client, guarded by an ``flock``):

* if the ports already listen, it connects to that server and takes a lease;
* otherwise it starts the server with the client's own ``EmbeddedV4`` (same binary name, same
  environment defaults as ``connect_to_embedded``), records its pid, and takes a lease;
* ``client.close()`` drops the lease; the last user to close (leases of dead processes are
  ignored) stops the server with SIGTERM, which Weaviate handles by flushing and exiting
  cleanly. Data survives restarts because it lives in ``WEAVIATE_DATA_DIR``.
* a user killed with SIGKILL leaves the server running (it is a separate process); the next
  user adopts it and stops it when it closes.
* the server runs in the process group of the user that started it, so Ctrl-C in that user's
  terminal also stops it (gracefully, Weaviate handles SIGINT); the others then get
  ``StoreUnavailable`` until the next user starts it again.
* "already listening" is judged by the ports alone: give each data folder its own
  ``WEAVIATE_PORT`` / ``WEAVIATE_GRPC_PORT``.

Security: HTTP listens on 127.0.0.1 only, but Weaviate 1.35 binds its gRPC port on every
interface, so the embedded server requires an API key: ``WEAVIATE_API_KEY`` when set,
otherwise a random key created once in ``<data dir>/.api-key`` (mode 0600) that every local
user reads. Go profiling (pprof on :6060) is switched off.

Every network step has a bounded timeout; an unreachable server raises ``StoreUnavailable``
with a message naming the setting to fix, never a hang.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import secrets
import signal
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import weaviate
from pydantic import AnyHttpUrl, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from weaviate.classes.aggregate import GroupByAggregate
from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances
from weaviate.classes.init import AdditionalConfig, Auth, Timeout
from weaviate.classes.query import Filter, MetadataQuery
from weaviate.collections import Collection
from weaviate.connect import ConnectionParams
from weaviate.embedded import EmbeddedOptions, EmbeddedV4
from weaviate.exceptions import WeaviateBaseError

# Single source of truth for the server version: scripts/build_weaviate.sh greps this line and
# docker-compose.yml uses the same tag.
WEAVIATE_VERSION = "1.35.2"

# Namespace for object UUIDs: uuid5(NAMESPACE, "source/split/name"). Never change it, or
# re-indexing would duplicate every object instead of updating it in place.
NAMESPACE = uuid.UUID("6f1d4c1e-3b1a-5d2e-9c61-0d1b2d7e8a40")

Modality = Literal["image", "audio"]
# Everything but the blob: searches and item look-ups never ship the media bytes.
METADATA_PROPERTIES = ["modality", "label", "source", "split", "name", "speaker", "model_version"]


class WeaviateSettings(BaseSettings):
    """Where Weaviate is and what the collection looks like (env names are the upper-case field names)."""

    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    weaviate_url: AnyHttpUrl | None = None  # None: run the embedded server
    weaviate_grpc_port: int = 50051
    weaviate_api_key: SecretStr | None = None
    weaviate_port: int = 8079  # HTTP port of the embedded server
    weaviate_data_dir: Path = Path.home() / ".local/share/digitbridge/weaviate"
    weaviate_timeout_s: float = 5.0
    collection: str = "Digit"
    shards: int = 1
    replication_factor: int = 1
    checkpoint: Path = Path("models/checkpoints/digitbridge.pt")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    data_dir: Path = Path("../shared/data")

    def describe(self) -> str:
        """Human description of the server this points at, for logs and error messages."""
        if self.weaviate_url is not None:
            return f"Weaviate at {self.weaviate_url} (WEAVIATE_URL, gRPC port {self.weaviate_grpc_port})"
        return (
            f"embedded Weaviate on 127.0.0.1:{self.weaviate_port} (gRPC {self.weaviate_grpc_port}, "
            f"data {self.weaviate_data_dir}; set WEAVIATE_URL to use another server)"
        )


class StoreUnavailable(Exception):
    """Weaviate cannot be reached or did not answer in time."""


@dataclass(frozen=True)
class Item:
    id: str
    modality: str
    label: int
    source: str
    split: str
    name: str
    speaker: str | None
    model_version: str


@dataclass(frozen=True)
class Hit(Item):
    distance: float


# ---------------------------------------------------------------- connection


def _timeouts(settings: WeaviateSettings) -> AdditionalConfig:
    t = settings.weaviate_timeout_s
    # Batch inserts carry PNG/WAV blobs and HNSW work; give them more room than queries.
    return AdditionalConfig(timeout=Timeout(init=t, query=max(t, 10.0), insert=max(6 * t, 60.0)))


def connect(settings: WeaviateSettings) -> weaviate.WeaviateClient:
    """Open a client to the configured server (starting or sharing the embedded one); close it when done."""
    try:
        if settings.weaviate_url is not None:
            return _connect_url(settings)
        return _connect_embedded(settings)
    except StoreUnavailable:
        raise
    except (WeaviateBaseError, OSError) as exc:
        raise StoreUnavailable(f"cannot reach {settings.describe()}: {exc}") from exc


def _connect_url(settings: WeaviateSettings) -> weaviate.WeaviateClient:
    url = settings.weaviate_url
    assert url is not None and url.host is not None
    secure = url.scheme == "https"
    key = settings.weaviate_api_key
    return weaviate.connect_to_custom(
        http_host=url.host,
        http_port=url.port or (443 if secure else 80),
        http_secure=secure,
        grpc_host=url.host,
        grpc_port=settings.weaviate_grpc_port,
        grpc_secure=secure,
        auth_credentials=Auth.api_key(key.get_secret_value()) if key else None,
        additional_config=_timeouts(settings),
    )


def embedded_binary(version: str | None = None) -> Path:
    """The file weaviate-client's embedded mode runs for this version (see scripts/build_weaviate.sh)."""
    tag = f"v{version or WEAVIATE_VERSION}"
    cache = EmbeddedOptions().binary_path  # honours XDG_CACHE_HOME like the client does
    return Path(cache) / f"weaviate-{tag}-{hashlib.sha256(tag.encode()).hexdigest()}"


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class _SharedEmbeddedClient(weaviate.WeaviateClient):
    """A client of the shared embedded server; closing it releases its lease (see module doc)."""

    _lease: Path | None = None
    _settings: WeaviateSettings | None = None

    def close(self) -> None:
        super().close()
        lease, self._lease = self._lease, None
        if lease is not None and self._settings is not None:
            _release(self._settings, lease)


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".digitbridge.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # serialises start/stop between processes
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited already


def _live_leases(data_dir: Path) -> list[Path]:
    leases = []
    for lease in (data_dir / ".leases").glob("*"):
        pid = int(lease.name.split("-", 1)[0])
        if _alive(pid):
            leases.append(lease)
        else:
            lease.unlink(missing_ok=True)  # left by a killed process
    return leases


def _connect_embedded(settings: WeaviateSettings) -> weaviate.WeaviateClient:
    data_dir = settings.weaviate_data_dir.expanduser().resolve()
    http, grpc = settings.weaviate_port, settings.weaviate_grpc_port
    with _locked(data_dir):
        if not (_listening(http) and _listening(grpc)):
            _start_server(settings, data_dir)
        lease = data_dir / ".leases" / f"{os.getpid()}-{uuid.uuid4().hex}"
        lease.parent.mkdir(exist_ok=True)
        lease.touch()
    client = _SharedEmbeddedClient(
        connection_params=ConnectionParams.from_params("127.0.0.1", http, False, "127.0.0.1", grpc, False),
        additional_config=_timeouts(settings),
        auth_client_secret=Auth.api_key(_local_key(settings, data_dir)),
    )
    client._lease, client._settings = lease, settings
    try:
        client.connect()
        _wait_ready(client, deadline=time.monotonic() + 60)
    except Exception:
        client.close()
        raise
    return client


def _wait_ready(client: weaviate.WeaviateClient, deadline: float) -> None:
    # A fresh server listens before its raft node has elected itself; schema calls fail until then.
    while not client.is_ready():
        if time.monotonic() > deadline:
            raise StoreUnavailable("the embedded Weaviate server did not become ready within 60 s")
        time.sleep(0.1)


class _EmbeddedServer(EmbeddedV4):
    """The client's embedded launcher, but it notices a server that died instead of waiting 30 s."""

    def wait_till_listening(self) -> None:
        deadline = time.monotonic() + 60
        while not self.is_listening():
            assert self.process is not None
            if self.process.poll() is not None:
                raise StoreUnavailable(
                    f"the embedded Weaviate server exited with code {self.process.returncode} at start-up "
                    "(its log is above); set WEAVIATE_URL to use another server"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise StoreUnavailable("the embedded Weaviate server did not listen within 60 s")
            time.sleep(0.05)


def _local_key(settings: WeaviateSettings, data_dir: Path) -> str:
    """WEAVIATE_API_KEY, or a random key kept (mode 0600) next to the data of the embedded server."""
    if settings.weaviate_api_key is not None:
        return settings.weaviate_api_key.get_secret_value()
    path = data_dir / ".api-key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def _start_server(settings: WeaviateSettings, data_dir: Path) -> None:
    binary = embedded_binary()
    if not binary.exists():
        # Without this check the client would try to download the release from GitHub.
        raise StoreUnavailable(
            f"the Weaviate {WEAVIATE_VERSION} server binary is missing ({binary}); run `make weaviate` "
            "to build it, or set WEAVIATE_URL to use a running server"
        )
    for port in (settings.weaviate_port, settings.weaviate_grpc_port):
        if _listening(port):
            raise StoreUnavailable(
                f"port {port} is taken by something that is not a complete Weaviate server; "
                "choose WEAVIATE_PORT / WEAVIATE_GRPC_PORT, or set WEAVIATE_URL"
            )
    db = _EmbeddedServer(
        EmbeddedOptions(
            persistence_data_path=str(data_dir),
            binary_path=str(binary.parent),
            version=WEAVIATE_VERSION,
            port=settings.weaviate_port,
            grpc_port=settings.weaviate_grpc_port,
            hostname="127.0.0.1",
            additional_env_vars={
                "DISABLE_TELEMETRY": "true",
                "ENABLE_MODULES": "",  # we bring our own vectors
                "API_BASED_MODULES_DISABLED": "true",  # 1.35 loads ~40 API modules otherwise
                "LOG_LEVEL": "error",
                # One node: elect itself leader after ~1 s instead of the cluster default of ~5 s.
                "RAFT_TIMEOUTS_MULTIPLIER": "1",
                # The client sets PROFILING_PORT, but this server reads GO_PROFILING_PORT and would
                # otherwise open a pprof endpoint on :6060 of every interface.
                "GO_PROFILING_DISABLE": "true",
                "PERSISTENCE_DATA_PATH": str(data_dir),
                # The gRPC port listens on every interface (not configurable in this version),
                # so require a key instead of the embedded default of anonymous access.
                "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "false",
                "AUTHENTICATION_APIKEY_ENABLED": "true",
                "AUTHENTICATION_APIKEY_ALLOWED_KEYS": _local_key(settings, data_dir),
                "AUTHENTICATION_APIKEY_USERS": "digitbridge",
                # Keep cluster traffic on loopback: otherwise Weaviate advertises the first
                # interface address, which may be IPv6 and then fails to start ("too many colons").
                "CLUSTER_ADVERTISE_ADDR": "127.0.0.1",
                "CLUSTER_BIND_ADDR": "127.0.0.1",
            },
        )
    )
    db.start()  # waits (<= 30 s) until both ports listen
    assert db.process is not None
    (data_dir / ".server.pid").write_text(str(db.process.pid))
    db.process = None  # the lease registry owns its life from now on, not this object's __del__


def _release(settings: WeaviateSettings, lease: Path) -> None:
    data_dir = lease.parent.parent
    with _locked(data_dir):
        lease.unlink(missing_ok=True)
        if _live_leases(data_dir):
            return
        pid_file = data_dir / ".server.pid"
        if pid_file.exists():
            _stop_server(int(pid_file.read_text()), settings)
            pid_file.unlink(missing_ok=True)


def _stop_server(pid: int, settings: WeaviateSettings, wait_s: float = 30.0) -> None:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b""
    if b"weaviate" not in cmdline:
        return  # gone already, or the pid was reused by something else
    os.kill(pid, signal.SIGTERM)  # Weaviate flushes its stores and exits
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
            if waited == pid:
                return
        except ChildProcessError:
            if not _alive(pid):
                return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)


# ---------------------------------------------------------------- schema


def ensure_collection(client: weaviate.WeaviateClient, settings: WeaviateSettings) -> Collection:
    """The collection, created per DESIGN.md if it does not exist yet."""
    name = settings.collection
    try:
        if not client.collections.exists(name):
            create_collection(client, settings)
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"{settings.describe()}: {exc}") from exc
    return client.collections.get(name)


def create_collection(client: weaviate.WeaviateClient, settings: WeaviateSettings) -> None:
    def text(name: str, filterable: bool = False) -> Property:
        # FIELD tokenization: "image" / "7_jackson_3.wav" are matched whole, never split into words.
        return Property(
            name=name,
            data_type=DataType.TEXT,
            tokenization=Tokenization.FIELD,
            index_filterable=filterable,
            index_searchable=False,
        )

    client.collections.create(
        settings.collection,
        description="DigitBridge: MNIST images and FSDD recordings in one embedding space",
        vector_config=Configure.Vectors.self_provided(
            vector_index_config=Configure.VectorIndex.hnsw(
                distance_metric=VectorDistances.COSINE,
                # Exact vectors: 10k x 128 floats are small, and servers that quantize by default
                # (DEFAULT_QUANTIZATION, e.g. managed instances) would blur near-duplicates.
                quantizer=Configure.VectorIndex.Quantizer.none(),
            ),
        ),
        properties=[
            text("modality", filterable=True),
            Property(name="label", data_type=DataType.INT, index_filterable=True),
            text("source", filterable=True),
            text("split"),
            text("name"),
            text("speaker"),
            Property(name="media", data_type=DataType.BLOB, index_filterable=False),
            text("model_version", filterable=True),
        ],
        sharding_config=Configure.sharding(desired_count=settings.shards),
        replication_config=Configure.replication(factor=settings.replication_factor),
    )


def object_uuid(source: str, split: str, name: str) -> uuid.UUID:
    """Deterministic id: re-indexing the same item updates it in place."""
    return uuid.uuid5(NAMESPACE, f"{source}/{split}/{name}")


# ---------------------------------------------------------------- queries


def _item(obj: Any) -> Item:
    p = obj.properties
    return Item(
        id=str(obj.uuid),
        modality=p["modality"],
        label=int(p["label"]),
        source=p["source"],
        split=p["split"],
        name=p["name"],
        speaker=p.get("speaker") or None,
        model_version=p["model_version"],
    )


def search(
    collection: Collection,
    vector: Sequence[float],
    target: Modality | None,
    limit: int,
    offset: int = 0,
    max_distance: float | None = None,
) -> list[Hit]:
    """Nearest neighbours of `vector`, optionally only of one modality, in a stable order.

    Exact and stably paged at this index size: every query carries a modality filter (for
    "any" one that matches both), and Weaviate answers filtered queries matching fewer than
    its flatSearchCutoff (40,000) objects by brute force instead of the approximate HNSW walk,
    whose candidates would change with the requested limit. We fetch the first
    offset+limit (+ a few) results, order them by (distance, id) so that ties never swap
    between pages, and slice: page n is always the continuation of page n-1.
    """
    slack = 8  # ties straddling the page end are ordered by id, not by arrival
    try:
        res = collection.query.near_vector(
            near_vector=list(map(float, vector)),
            limit=offset + limit + slack,
            distance=max_distance,
            filters=(
                Filter.by_property("modality").equal(target)
                if target
                else Filter.by_property("modality").contains_any(["image", "audio"])
            ),
            return_properties=METADATA_PROPERTIES,
            return_metadata=MetadataQuery(distance=True),
        )
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"search failed: {exc}") from exc
    hits = [Hit(**vars(_item(o)), distance=float(o.metadata.distance or 0.0)) for o in res.objects]
    hits.sort(key=lambda h: (h.distance, h.id))
    return hits[offset : offset + limit]


def _fetch(collection: Collection, id: str | uuid.UUID, **kwargs: Any) -> Any:
    try:
        uid = uuid.UUID(str(id))
    except ValueError:
        return None  # not a UUID: cannot be one of ours
    try:
        return collection.query.fetch_object_by_id(uid, **kwargs)
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"fetching {uid} failed: {exc}") from exc


def get_item(collection: Collection, id: str | uuid.UUID) -> Item | None:
    obj = _fetch(collection, id, return_properties=METADATA_PROPERTIES)
    return None if obj is None else _item(obj)


def get_media(collection: Collection, id: str | uuid.UUID) -> bytes | None:
    """The stored PNG / WAV bytes (the client hands blobs over base64-encoded)."""
    obj = _fetch(collection, id, return_properties=["media"])
    if obj is None or not obj.properties.get("media"):
        return None
    return base64.b64decode(obj.properties["media"])


def get_vector(collection: Collection, id: str | uuid.UUID) -> list[float] | None:
    obj = _fetch(collection, id, return_properties=[], include_vector=True)
    if obj is None:
        return None
    vec = obj.vector["default"] if isinstance(obj.vector, dict) else obj.vector
    return [float(x) for x in vec]


def counts(collection: Collection) -> dict[str, dict[int, int]]:
    """Objects per modality and label, e.g. {"image": {0: 980, ...}, "audio": {...}}."""
    out: dict[str, dict[int, int]] = {}
    try:
        for modality in ("image", "audio"):
            res = collection.aggregate.over_all(
                filters=Filter.by_property("modality").equal(modality),
                group_by=GroupByAggregate(prop="label"),
                total_count=True,
            )
            per_label = {int(float(str(g.grouped_by.value))): int(g.total_count or 0) for g in res.groups}
            if per_label:
                out[modality] = dict(sorted(per_label.items()))
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"counting objects failed: {exc}") from exc
    return out


def model_versions(collection: Collection) -> dict[str, int]:
    """How many objects each checkpoint version wrote; one key means a consistent index."""
    try:
        res = collection.aggregate.over_all(group_by=GroupByAggregate(prop="model_version"), total_count=True)
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"reading model versions failed: {exc}") from exc
    return {str(g.grouped_by.value): int(g.total_count or 0) for g in res.groups}
