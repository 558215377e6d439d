"""Train both encoders into one space: `python -m training.train [--steps N] [--out PATH] [...]`.

Each step draws a batch of MNIST digits and a batch of FSDD clips (both augmented),
embeds them, and minimises cross-entropy against class prototypes shared by the two
modalities plus a cross-modal supervised-contrastive term (image<->audio pairs of the
same digit are positives). The best checkpoint on the held-out selection split wins.
"""

import copy
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from pydantic import Field
from pydantic_settings import CliApp, SettingsConfigDict
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from models.audio_preprocess import speech_tensor, wave_at_model_rate
from models.data import MNIST_SELECTION_SIZE, Split, fsdd_items, load_mnist
from models.encoder_config import EncoderConfig
from models.encoders import DigitEncoders, load_model, save_checkpoint
from models.image_preprocess import normalise_digit, standardise_digits
from models.runtime import file_version
from models.settings import DEFAULT_CHECKPOINT, DataSettings
from training.augment import augment_digits, augment_wave, warp_vocal_tract
from training.export import export_onnx
from training.selection import embed_all, selection_score, training_mode
from training.training_voices import held_out_voice_waves, synthetic_waves


class TrainSettings(DataSettings):
    """Trains both encoders into one space. Each option is also an env var (TRAIN_<NAME>)."""

    # TRAIN_: the indexer's BATCH_SIZE, a shell's THREADS or SEED never reach training
    model_config = SettingsConfigDict(env_prefix="TRAIN_", cli_prog_name="python -m training.train")

    steps: int = 8000
    batch_size: int = Field(default=64, description="per modality")
    audio_copies: int = Field(default=24, description="augmented versions of each training clip")
    # The defaults are the committed checkpoint's recipe; the Festival voices are an option
    # (model card: two runs with them that did not ship).
    synthetic_speakers: str = Field(
        default="flite", description="flite, flite+festival or none: voices joining FSDD's"
    )
    selection_voices: str = Field(
        default="none", description="festival (held-out voices join the selection split) or none"
    )
    pitch_raise: float = Field(
        default=0.0, description="share of augmented clips whose pitch alone is raised (formants kept)"
    )
    lr: float = 3e-3
    weight_decay: float = 1e-4
    loss: str = Field(default="proto+supcon", description="proto+supcon, proto or triplet+ce")
    supcon_weight: float = 1.0
    temperature: float = 0.1
    eval_every: int = 1000
    seed: int = 0
    threads: int = 2
    start_from: Path | None = Field(default=None, description="fine-tune this checkpoint (its config)")
    train_only: str = Field(
        default="both", description="both, or audio: the image encoder and the prototypes stay as they start"
    )
    out: Path = Field(default=DEFAULT_CHECKPOINT, description="the checkpoint to write")
    plots: Path = Path("models/plots")


# Every input below goes through models.image_preprocess / audio_preprocess, the functions
# indexing and serving call:
# normalise_digit + standardise_digits for images, wave_at_model_rate + speech_tensor for audio.
# Augmentation sits between the two steps of each.


def normalise_mnist(images: np.ndarray, config: EncoderConfig) -> torch.Tensor:
    """MNIST arrays through the serving path -> (N, 1, 28, 28) in [0, 1], before standardising."""
    out = np.stack([normalise_digit(img.astype(np.float32) / 255.0, config.image) for img in images])
    return torch.from_numpy(out).unsqueeze(1)


def image_inputs(images: np.ndarray, config: EncoderConfig) -> torch.Tensor:
    """MNIST arrays -> the encoder's inputs, equal to what serving makes of their PNG uploads."""
    return standardise_digits(normalise_mnist(images, config))


def augmented_image_inputs(digits: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Normalised digits (B, 1, 28, 28) -> augmented encoder inputs."""
    return standardise_digits(augment_digits(digits, gen))


def load_waves(data_dir: Path, split: Split, config: EncoderConfig) -> tuple[list[np.ndarray], torch.Tensor]:
    """The split's clips as waveforms at the model rate, and their labels."""
    items = fsdd_items(data_dir, split)
    waves = [wave_at_model_rate(item.path.read_bytes(), config.audio) for item in items]
    return waves, torch.tensor([item.label for item in items])


def audio_inputs(waves: list[np.ndarray], config: EncoderConfig) -> torch.Tensor:
    """Waveforms at the model rate -> the encoder's inputs, equal to what serving makes of them."""
    return torch.stack([torch.from_numpy(speech_tensor(wave, config.audio)) for wave in waves])


class AugmentedClips(Dataset):
    """Key (index, draw) -> augmented spectrogram of clip `index`; the draw number seeds
    the RNG, so the bank is identical whatever the number of loader workers."""

    def __init__(self, waves: list[np.ndarray], config: EncoderConfig, seed: int, pitch_raise: float):
        self.waves, self.params, self.seed, self.pitch_raise = waves, config.audio, seed, pitch_raise

    def __len__(self) -> int:
        return len(self.waves)

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:
        index, draw = key
        rng = np.random.default_rng([self.seed, draw])
        wave = augment_wave(self.waves[index], self.params, rng, self.pitch_raise)
        return torch.from_numpy(speech_tensor(wave, self.params))


def augmented_bank(
    waves: list[np.ndarray], config: EncoderConfig, copies: int, seed: int, pitch_raise: float = 0.0
) -> torch.Tensor:
    """(copies * clips, 1, n_mels, frames): every clip augmented `copies` times up front.
    Waveform augmentation is the slow part of a step on 2 cores; doing it once, in two
    worker processes, makes training CPU-bound on the model instead of on Python."""
    keys = [(i, c * len(waves) + i) for c in range(copies) for i in range(len(waves))]
    loader = DataLoader(
        AugmentedClips(waves, config, seed, pitch_raise),
        batch_size=256,
        sampler=keys,
        num_workers=2,
    )
    return torch.cat(list(tqdm(loader, desc="augmenting clips")))


def spec_augment_batch(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """SpecAugment on a batch: one frequency band and one time span per example set to
    the example's mean (what a dropped band or a cough looks like to the model)."""
    b, _, n_mels, frames = x.shape
    f_width = torch.randint(0, n_mels // 6 + 1, (b,), generator=gen)
    f_start = (torch.rand(b, generator=gen) * (n_mels - f_width)).long()
    t_width = torch.randint(0, frames // 8 + 1, (b,), generator=gen)
    t_start = (torch.rand(b, generator=gen) * (frames - t_width)).long()
    mel_idx, time_idx = torch.arange(n_mels), torch.arange(frames)
    f_mask = (mel_idx[None] >= f_start[:, None]) & (mel_idx[None] < (f_start + f_width)[:, None])
    t_mask = (time_idx[None] >= t_start[:, None]) & (time_idx[None] < (t_start + t_width)[:, None])
    mask = f_mask[:, None, :, None] | t_mask[:, None, None, :]
    keep = torch.rand(b, generator=gen) < 0.8
    mask &= keep[:, None, None, None]
    return torch.where(mask, x.mean(dim=(1, 2, 3), keepdim=True), x)


def cross_modal_supcon(img: torch.Tensor, aud: torch.Tensor, yi: torch.Tensor, ya: torch.Tensor, t: float):
    """Supervised InfoNCE across modalities, both directions: every same-digit
    image/audio pair is a positive, every other pair in the batch a negative."""
    logits = img @ aud.T / t  # (Bi, Ba)
    positives = (yi[:, None] == ya[None, :]).float()

    def one_way(lg: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        log_prob = lg.log_softmax(dim=1)
        has_pos = pos.sum(1) > 0
        per_row = -(log_prob * pos).sum(1) / pos.sum(1).clamp(min=1)
        return per_row[has_pos].mean()

    return 0.5 * (one_way(logits, positives) + one_way(logits.T, positives.T))


def loss_fn(model: DigitEncoders, args: TrainSettings, emb_i, emb_a, yi, ya) -> torch.Tensor:
    ce = F.cross_entropy(model.logits(emb_i), yi) + F.cross_entropy(model.logits(emb_a), ya)
    if args.loss == "proto":
        return ce
    if args.loss == "proto+supcon":
        return ce + args.supcon_weight * cross_modal_supcon(emb_i, emb_a, yi, ya, args.temperature)
    if args.loss == "triplet+ce":
        from pytorch_metric_learning import losses, miners

        emb, labels = torch.cat([emb_i, emb_a]), torch.cat([yi, ya])
        triplets = miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard")(emb, labels)
        return ce + losses.TripletMarginLoss(margin=0.2)(emb, labels, triplets)
    raise ValueError(f"unknown loss {args.loss!r}")


def train(args: TrainSettings, config: EncoderConfig | None = None) -> dict:
    start = load_model(args.start_from) if args.start_from else None
    config = start.config if start else (config or EncoderConfig())
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    started = time.time()

    images, labels = load_mnist(args.data_dir, train=True)
    split = len(images) - MNIST_SELECTION_SIZE
    train_images = normalise_mnist(images[:split], config)
    train_labels = torch.from_numpy(labels[:split])
    sel_images = image_inputs(images[split:], config)
    sel_img_labels = torch.from_numpy(labels[split:])
    waves, wave_labels = load_waves(args.data_dir, "train", config)
    tts_waves, tts_labels = synthetic_waves(args.synthetic_speakers, config)
    waves, wave_labels = waves + tts_waves, torch.cat([wave_labels, tts_labels])
    sel_waves, sel_aud_labels = load_waves(args.data_dir, "selection", config)
    held_waves, held_labels = held_out_voice_waves(args.selection_voices, config, args.seed)
    sel_waves, sel_aud_labels = sel_waves + held_waves, torch.cat([sel_aud_labels, held_labels])
    sel_specs = audio_inputs(sel_waves, config)
    tqdm.write(
        f"data ready in {time.time() - started:.0f}s: {len(train_images)} images, "
        f"{len(waves)} clips ({len(tts_waves)} synthetic), selection {len(sel_waves)} clips "
        f"({len(held_waves)} of held-out voices)"
    )

    model = start or DigitEncoders(config)
    if args.train_only not in ("both", "audio"):
        raise ValueError(f"unknown train_only {args.train_only!r}: both or audio")
    if args.train_only == "audio":  # the image space stays as it is; audio learns to meet it
        for parameter in [*model.image.parameters(), model.prototypes]:
            parameter.requires_grad_(False)
    trained = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimiser = torch.optim.AdamW(trained, lr=args.lr, weight_decay=args.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=args.lr, total_steps=max(1, args.steps), pct_start=0.15
    )
    bank = augmented_bank(waves, config, args.audio_copies, args.seed, args.pitch_raise)
    bank_labels = wave_labels.repeat(args.audio_copies)
    gen = torch.Generator().manual_seed(args.seed)
    history: list[dict] = []
    best = {"score": -1.0, "step": 0}
    best_state = copy.deepcopy(model.state_dict())

    training_mode(model, args.train_only)
    for step in tqdm(range(1, args.steps + 1), desc="train", disable=args.steps == 0):
        idx = torch.randint(len(train_images), (args.batch_size,), generator=gen)
        x_img = augmented_image_inputs(train_images[idx], gen)
        y_img = train_labels[idx]
        aidx = torch.randint(len(bank), (args.batch_size,), generator=gen)
        x_aud, y_aud = spec_augment_batch(warp_vocal_tract(bank[aidx], gen), gen), bank_labels[aidx]
        emb_i, emb_a = model.embed("image", x_img), model.embed("audio", x_aud)
        loss = loss_fn(model, args, emb_i, emb_a, y_img, y_aud)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        history.append({"step": step, "loss": float(loss.detach())})
        if step % args.eval_every == 0 or step == args.steps:
            score = selection_score(
                model, sel_images, sel_img_labels, sel_specs, sel_aud_labels, len(held_waves), args.train_only
            )
            history[-1]["selection"] = score
            tqdm.write(f"step {step}: loss {float(loss):.3f} selection {json.dumps(score)}")
            if score["score"] > best["score"]:
                best = {**score, "step": step}
                best_state = copy.deepcopy(model.state_dict())

    model.load_state_dict(best_state)
    wall = time.time() - started
    meta = {
        "train_args": {k: str(v) for k, v in args.model_dump(exclude={"cache_dir"}).items()},
        "command": "python -m training.train " + " ".join(sys.argv[1:]),
        "best_selection": best,
        "started_from": file_version(args.start_from) if args.start_from else None,
        "wall_seconds": round(wall, 1),
        "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"{'cuda' if torch.cuda.is_available() else 'cpu'}",
        "torch": str(torch.__version__),
    }
    version = save_checkpoint(model, args.out, meta)
    export_onnx(args.out)  # what indexing and serving run on CPU
    args.plots.mkdir(parents=True, exist_ok=True)
    if history:
        from training.plots import plot_embeddings, plot_loss

        plot_loss(history, args.plots / "loss.png")
        ei = embed_all(model, "image", sel_images[:2000])
        ea = embed_all(model, "audio", sel_specs)
        plot_embeddings(
            ei, sel_img_labels[:2000].numpy(), ea, sel_aud_labels.numpy(), args.plots / "embeddings.png"
        )
    tqdm.write(f"saved {args.out} (model version {version}) after {wall:.0f}s; best selection {best}")
    return {"model_version": version, "best": best, "wall_seconds": wall, "history": history}


def main(argv: list[str] | None = None) -> None:
    train(CliApp.run(TrainSettings, cli_args=argv))


if __name__ == "__main__":
    main()
