"""Model selection: how a model under training retrieves on the held-out selection split."""

import numpy as np
import torch

from models.encoders import DigitEncoders
from models.modality import Modality
from training.retrieval_metrics import retrieval_metrics


def training_mode(model: DigitEncoders, train_only: str = "both") -> None:
    """Back to training after an evaluation; a frozen image encoder stays in eval mode (its
    batch-norm statistics are the starting checkpoint's)."""
    model.train()
    if train_only == "audio":
        model.image.eval()


@torch.no_grad()
def embed_all(
    model: DigitEncoders, modality: Modality, x: torch.Tensor, batch: int = 512, train_only: str = "both"
) -> np.ndarray:
    model.eval()
    out = [model.embed(modality, x[i : i + batch]).numpy() for i in range(0, len(x), batch)]
    training_mode(model, train_only)
    return np.concatenate(out)


def selection_score(
    model, sel_images, sel_img_labels, sel_specs, sel_aud_labels, held_out: int = 0, train_only: str = "both"
) -> dict:
    """Retrieval both ways on the selection split; the last `held_out` clips are held-out voices,
    also scored on their own (audio -> image) so the log shows what unseen voices get."""
    ei = embed_all(model, "image", sel_images, train_only=train_only)
    ea = embed_all(model, "audio", sel_specs, train_only=train_only)
    yi, ya = sel_img_labels.numpy(), sel_aud_labels.numpy()
    i2a = retrieval_metrics(ei, yi, ea, ya)
    a2i = retrieval_metrics(ea, ya, ei, yi)
    score = {
        "image_to_audio_map@r": i2a["map@r"],
        "audio_to_image_map@r": a2i["map@r"],
        "image_to_audio_p@10": i2a["p@10"],
        "audio_to_image_p@10": a2i["p@10"],
        "score": 0.5 * (i2a["map@r"] + a2i["map@r"]),
    }
    if held_out:
        voices = retrieval_metrics(ea[-held_out:], ya[-held_out:], ei, yi)
        score |= {"held_out_voices_p@10": voices["p@10"], "held_out_voices_map@r": voices["map@r"]}
    return score
