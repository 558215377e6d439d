"""The first links of the settings chain: what every entry point needs to read the data and load the model.

DataSettings -> ModelSettings -> store.settings.StoreSettings -> indexer.settings.IndexerSettings
                                                              -> service.settings.ServiceSettings
DataSettings -> training.train.TrainSettings; ModelSettings -> training's evaluation and OOD report

Values come from the environment (or a .env file); names are the upper-case field names
(CHECKPOINT, DEVICE, DATA_DIR), except `cache_dir`, read from DIGITBRIDGE_CACHE. These
settings classes are the only code that reads the environment. A command line (`python -m
indexer`, training's commands) reads its options from its settings class too, through
pydantic-settings' CliApp: each field is one option, `--kebab-case`, beside its env var.
"""

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CHECKPOINT = Path("models/checkpoints/digitbridge.pt")
DEFAULT_DATA_DIR = Path("../shared/data")  # relative to the repository root, where commands run


class DataSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_ignore_empty=True,
        extra="ignore",
        # as command lines: --batch-size, a bare --recreate for a bool, the env var in --help
        cli_kebab_case=True,
        cli_implicit_flags="toggle",
        cli_show_env_vars=True,
        cli_hide_none_type=True,
        cli_avoid_json=True,
    )

    # The aliases pin the env names: a command's env_prefix (TRAIN_, ...) never renames these.
    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        validation_alias="data_dir",
        description="holds mnist/ and fsdd/ (downloaded there when absent)",
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "digitbridge",
        validation_alias=AliasChoices("DIGITBRIDGE_CACHE", "cache_dir"),
        description="generated out-of-distribution media, training voices, built tools",
    )


class ModelSettings(DataSettings):
    checkpoint: Path = Field(
        default=DEFAULT_CHECKPOINT,
        validation_alias="checkpoint",
        description="the encoders' checkpoint; its sha256 prefix is the model version",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto",
        validation_alias="device",
        description="auto: CUDA when present and PyTorch installed",
    )
    encoder_runtime: Literal["auto", "onnx", "torch"] = Field(
        default="auto",
        validation_alias="encoder_runtime",
        description="what runs the encoders: auto = ONNX Runtime on CPU, PyTorch on CUDA (models/runtime.py)",
    )
