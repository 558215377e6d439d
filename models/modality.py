"""The two kinds of media DigitBridge embeds, named once for every package."""

from typing import Literal

Modality = Literal["image", "audio"]
MODALITIES: tuple[Modality, ...] = ("image", "audio")
OTHER: dict[Modality, Modality] = {"image": "audio", "audio": "image"}
