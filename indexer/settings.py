"""The indexer's settings: the store's settings plus what one indexing run covers."""

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from store.settings import StoreSettings

SOURCES = ("mnist", "fsdd")


class IndexerSettings(StoreSettings):
    """Fills the collection: embeds MNIST test + FSDD validation. Each option is also an env var."""

    model_config = SettingsConfigDict(
        cli_prog_name="python -m indexer",
        cli_shortcuts={"index-sources": "sources", "index-limit": "limit"},
    )

    batch_size: int = Field(default=256, ge=1, le=10_000, description="objects per embed + insert batch")
    index_sources: str = Field(default="mnist,fsdd", description="comma-separated: mnist,fsdd")
    index_limit: int | None = Field(default=None, ge=0, description="at most N items per source (quick runs)")
    recreate: bool = Field(default=False, description="drop the collection first")

    @field_validator("index_sources")
    @classmethod
    def _known_sources(cls, value: str) -> str:
        unknown = set(sources_of(value)) - set(SOURCES)
        if unknown or not sources_of(value):
            raise ValueError(
                f"sources must be a comma-separated subset of {','.join(SOURCES)}, got {value!r}"
            )
        return value

    @property
    def sources(self) -> list[str]:
        return sources_of(self.index_sources)


def sources_of(value: str) -> list[str]:
    return [s.strip() for s in value.split(",") if s.strip()]
