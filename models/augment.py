"""Training-time augmentation. Stands in for people the model has never met:
other handwriting (thickness, slant, blur) and other voices (pitch/formant shifts via
speed perturbation, gain, noise, timing), plus SpecAugment-style masking (in models.train, on batches)."""

import math

import numpy as np
import torch
from torch.nn import functional as F

from models.encoder_config import AudioParams


def augment_digits(x: torch.Tensor, gen: torch.Generator, p_clean: float = 0.25) -> torch.Tensor:
    """x: (B, 1, 28, 28) in [0, 1] -> the same shape, jittered per sample."""
    b, original = x.shape[0], x

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(b, generator=gen)

    angle = uniform(-15, 15) * math.pi / 180
    shear = uniform(-0.25, 0.25)
    scale = uniform(0.85, 1.12)
    tx, ty = uniform(-0.12, 0.12), uniform(-0.12, 0.12)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [
            torch.stack([cos / scale, (-sin + shear) / scale, tx], dim=1),
            torch.stack([sin / scale, cos / scale, ty], dim=1),
        ],
        dim=1,
    )  # (B, 2, 3) maps output coords to input coords
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    stroke = torch.rand(b, generator=gen)
    thick = F.max_pool2d(x, 3, stride=1, padding=1)  # dilation: a fatter pen
    thin = -F.max_pool2d(-x, 3, stride=1, padding=1)  # erosion: a finer pen
    x = torch.where((stroke < 0.25)[:, None, None, None], thick, x)
    x = torch.where(((stroke > 0.85) & (thin.flatten(1).amax(1) > 0.3))[:, None, None, None], thin, x)
    blur_kernel = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16
    blurred = F.conv2d(x, blur_kernel[None, None], padding=1)
    x = torch.where((torch.rand(b, generator=gen) < 0.2)[:, None, None, None], blurred, x)
    peak = x.flatten(1).amax(1).clamp(min=1e-3)[:, None, None, None]
    x = (x / peak).clamp(0, 1)
    keep_clean = (torch.rand(b, generator=gen) < p_clean)[:, None, None, None]  # clean digits stay in the mix
    return torch.where(keep_clean, original, x)


def augment_wave(wave: torch.Tensor, params: AudioParams, rng: np.random.Generator) -> torch.Tensor:
    """One 8 kHz waveform -> a perturbed one (still 8 kHz), before silence trimming."""
    # Speed perturbation moves pitch and formants together: 1.1-1.35 approximates
    # women's and children's voices from these six men, 0.9 deeper ones.
    factor = float(rng.choice([1.0, rng.uniform(0.88, 1.38)], p=[0.25, 0.75]))
    if abs(factor - 1.0) > 1e-3:
        new_len = max(16, int(wave.numel() / factor))
        wave = F.interpolate(wave[None, None], size=new_len, mode="linear", align_corners=False)[0, 0]
    wave = wave * float(10 ** (rng.uniform(-20, 6) / 20))  # gain
    rms = float(wave.pow(2).mean().sqrt()) + 1e-8
    lead, tail = (int(rng.uniform(0, 0.4) * params.sample_rate) for _ in range(2))
    wave = F.pad(wave, (lead, tail))  # silence around the word, as uploads have
    if rng.random() < 0.7:  # background noise at 10-40 dB SNR
        snr_db = rng.uniform(10, 40)
        noise = torch.from_numpy(rng.standard_normal(wave.numel()).astype(np.float32))
        wave = wave + noise * rms * float(10 ** (-snr_db / 20))
    return wave.clamp(-1, 1)
