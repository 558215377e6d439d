"""The first link of the settings chain: what every entry point needs to load the model and the data.

models.settings.ModelSettings -> store.settings.StoreSettings -> indexer.settings.IndexerSettings
                                                                       -> service.settings.ServiceSettings

Values come from the environment (or a .env file); names are the upper-case field names
(CHECKPOINT, DEVICE, DATA_DIR), except `cache_dir`, read from DIGITBRIDGE_CACHE. These
settings classes are the only code that reads the environment.
"""

import argparse
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CHECKPOINT = Path("models/checkpoints/digitbridge.pt")
DEFAULT_DATA_DIR = Path("../shared/data")  # relative to the repository root, where commands run


class ModelSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_ignore_empty=True, extra="ignore", populate_by_name=True
    )

    checkpoint: Path = DEFAULT_CHECKPOINT  # its sha256 prefix is the model version
    device: Literal["auto", "cpu", "cuda"] = "auto"  # auto: CUDA when present
    # ENCODER_RUNTIME: auto = ONNX Runtime on CPU, PyTorch on CUDA (models/runtime.py)
    encoder_runtime: Literal["auto", "onnx", "torch"] = "auto"
    data_dir: Path = DEFAULT_DATA_DIR  # holds mnist/ and fsdd/ (downloaded there when absent)
    cache_dir: Path = Field(  # unpacked MNIST, generated out-of-distribution media
        default=Path.home() / ".cache" / "digitbridge",
        validation_alias=AliasChoices("DIGITBRIDGE_CACHE", "cache_dir"),
    )


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--checkpoint, --data-dir and --device for a command line tool: the flags override
    these settings, which are their defaults."""
    settings = ModelSettings()
    parser.add_argument("--checkpoint", type=Path, default=settings.checkpoint)
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    parser.add_argument("--device", default=settings.device, choices=("auto", "cpu", "cuda"))
