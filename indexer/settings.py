"""The indexer's settings: the store's settings plus what one indexing run covers."""

from pydantic import Field, field_validator

from store.settings import StoreSettings

SOURCES = ("mnist", "fsdd")


class IndexerSettings(StoreSettings):
    """Indexer options; each is also an env var (BATCH_SIZE, INDEX_SOURCES, INDEX_LIMIT, RECREATE)."""

    batch_size: int = Field(default=256, ge=1, le=10_000)
    index_sources: str = "mnist,fsdd"
    index_limit: int | None = Field(default=None, ge=0)  # at most this many items per source (quick runs)
    recreate: bool = False

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
