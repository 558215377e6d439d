"""Where Weaviate is and what the collection looks like: the store's link in the settings chain
(models.settings.ModelSettings -> StoreSettings -> the indexer's and the service's settings)."""

from pathlib import Path

from pydantic import AnyHttpUrl, Field, SecretStr

from models.settings import ModelSettings


class StoreSettings(ModelSettings):
    """Env names are the upper-case field names (WEAVIATE_URL, COLLECTION, ...)."""

    weaviate_url: AnyHttpUrl | None = Field(default=None, description="unset: run the embedded server")
    weaviate_grpc_port: int = 50051
    weaviate_api_key: SecretStr | None = None
    weaviate_port: int = Field(default=8079, description="HTTP port of the embedded server")
    weaviate_data_dir: Path = Path.home() / ".local/share/digitbridge/weaviate"
    weaviate_timeout_s: float = Field(default=5.0, description="connecting, and each query")
    weaviate_write_timeout_s: float = Field(
        default=10.0,
        description="each batch write, replicas included (a write at ALL with a hung replica fails after it)",
    )
    collection: str = "Digit"
    shards: int = 1
    replication_factor: int = 1

    def describe(self) -> str:
        """Human description of the server this points at, for logs and error messages."""
        if self.weaviate_url is not None:
            return f"Weaviate at {self.weaviate_url} (WEAVIATE_URL, gRPC port {self.weaviate_grpc_port})"
        return (
            f"embedded Weaviate on 127.0.0.1:{self.weaviate_port} (gRPC {self.weaviate_grpc_port}, "
            f"data {self.weaviate_data_dir}; set WEAVIATE_URL to use another server)"
        )
