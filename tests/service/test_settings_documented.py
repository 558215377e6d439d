"""Every setting of the service and the indexer is in README's environment table, under the
variable the settings chain reads (its alias where it has one)."""

from pathlib import Path

from pydantic import AliasChoices

from indexer.settings import IndexerSettings
from service.settings import ServiceSettings

README = Path(__file__).resolve().parents[2] / "README.md"


def variable(name: str, alias: object) -> str:
    """The environment variable: an upper-case alias where the field has one, else its name."""
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
    upper = [str(c) for c in choices if isinstance(c, str) and c.isupper()]
    return upper[0] if upper else name.upper()


def test_every_setting_is_in_the_readme_table() -> None:
    table = [line for line in README.read_text().splitlines() if line.startswith("| `")]
    fields = {**ServiceSettings.model_fields, **IndexerSettings.model_fields}
    missing = [
        variable(name, field.validation_alias)
        for name, field in fields.items()
        if not any(f"`{variable(name, field.validation_alias)}`" in row.split("|")[1] for row in table)
    ]
    assert missing == []
    assert {"READ_ONLY", "MAX_USER_ITEMS"} <= {variable(n, f.validation_alias) for n, f in fields.items()}
