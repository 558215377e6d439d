"""Training-time augmentation. Stands in for people and devices the model has never met:
other handwriting (thickness, slant, blur, thumbnails and coarse pixel grids) and other
voices and rooms (pitch/formant, pitch-only and vocal-tract changes, reverberation, telephone and laptop
bands, microphone colouring, noise floors, long takes, clipped windows), plus
SpecAugment-style masking (in training.train, on batches)."""

import math

import numpy as np
import torch
import torchaudio
from torch.nn import functional as F

from models.encoder_config import AudioParams
from training.pitch_shift import raise_pitch


def _low_resolution(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """What the preprocessing makes of a tiny upload: the digit's ~20 px box held at 6-14 px,
    then enlarged again (smoothly, or blockily when the grid was coarse)."""
    side = int(torch.randint(6, 15, (1,), generator=gen))
    small = F.interpolate(x, size=(side * 28 // 20,) * 2, mode="area")
    mode = "nearest" if torch.rand(1, generator=gen) < 0.3 else "bicubic"
    return F.interpolate(small, size=(28, 28), mode=mode).clamp(0, 1)


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
    x = torch.where((torch.rand(b, generator=gen) < 0.2)[:, None, None, None], _low_resolution(x, gen), x)
    peak = x.flatten(1).amax(1).clamp(min=1e-3)[:, None, None, None]
    x = (x / peak).clamp(0, 1)
    keep_clean = (torch.rand(b, generator=gen) < p_clean)[:, None, None, None]  # clean digits stay in the mix
    return torch.where(keep_clean, original, x)


# --------------------------------------------------------------------------- voices and rooms


def _noise(n: int, rate: int, rng: np.random.Generator) -> torch.Tensor:
    """Unit-RMS background: white (hiss), low-passed (rooms, fans, traffic) or brown (rumble)."""
    noise = torch.from_numpy(rng.standard_normal(n).astype(np.float32))
    kind = rng.choice(["white", "lowpass", "brown"], p=[0.35, 0.45, 0.2])
    if kind == "lowpass":
        noise = torchaudio.functional.lowpass_biquad(noise, rate, float(rng.uniform(300, 2500)))
    elif kind == "brown":
        noise = torch.cumsum(noise, 0)
        noise = torchaudio.functional.highpass_biquad(noise - noise.mean(), rate, 60.0)
    return noise / (noise.pow(2).mean().sqrt() + 1e-8)


def _reverberate(wave: torch.Tensor, rate: int, rng: np.random.Generator) -> torch.Tensor:
    """A room: the word convolved with exponentially decaying noise (RT60 0.15-0.7 s)."""
    rt60 = rng.uniform(0.15, 0.7)
    t = torch.arange(int(rt60 * rate)) / rate
    tail = torch.from_numpy(rng.standard_normal(t.numel()).astype(np.float32)) * torch.exp(-6.9 * t / rt60)
    tail[0] = 1.0 / float(rng.uniform(0.15, 0.6))  # the direct sound, 4-16 dB over the tail's start
    wet = torchaudio.functional.fftconvolve(wave, tail)[: wave.numel()]
    return wet * (wave.abs().max() / (wet.abs().max() + 1e-8))


def _microphone(wave: torch.Tensor, rate: int, rng: np.random.Generator) -> torch.Tensor:
    """Band limits (telephone, laptop) and a coloured frequency response."""
    if rng.random() < 0.5:
        wave = torchaudio.functional.highpass_biquad(wave, rate, float(rng.uniform(150, 500)))
        wave = torchaudio.functional.lowpass_biquad(wave, rate, float(rng.uniform(2600, 3800)))
    for _ in range(int(rng.integers(1, 3))):
        wave = torchaudio.functional.equalizer_biquad(
            wave, rate, float(rng.uniform(300, 3200)), float(rng.uniform(-8, 8)), float(rng.uniform(0.7, 2.0))
        )
    return wave


def augment_wave(
    samples: np.ndarray, params: AudioParams, rng: np.random.Generator, pitch_raise: float = 0.0
) -> np.ndarray:
    """One float32 waveform at the model rate -> a perturbed one (same rate), before silence
    trimming. The perturbations run in torch (training has it; preprocessing does not need it).
    `pitch_raise`: the share of clips whose pitch alone is raised 1.15-2.2x (formants kept)."""
    rate = params.sample_rate
    # No draw when pitch_raise is 0, so a recipe without it gets the very same clips as before.
    raised = pitch_raise > 0 and rng.random() < pitch_raise
    if raised:  # a high voice on a man's vocal tract: FSDD's men at a woman's or a child's pitch
        samples = raise_pitch(samples, float(rng.uniform(1.15, 2.2)), rng)
    wave = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    # Speed perturbation moves pitch and formants together: 1.1-1.35 approximates
    # women's and children's voices from these six men, 0.9 deeper ones. A raised clip is
    # already shorter by its pitch factor, so it is sped up less (no word spoken 3x as fast).
    factor = float(rng.choice([1.0, rng.uniform(0.88, 1.2 if raised else 1.38)], p=[0.25, 0.75]))
    if abs(factor - 1.0) > 1e-3:
        new_len = max(16, int(wave.numel() / factor))
        wave = F.interpolate(wave[None, None], size=new_len, mode="linear", align_corners=False)[0, 0]
    if rng.random() < 0.3:
        wave = _reverberate(wave, rate, rng)
    if rng.random() < 0.4:
        wave = _microphone(wave, rate, rng)
    wave = wave / (wave.abs().max() + 1e-8) * float(10 ** (rng.uniform(-26, -1) / 20))  # peak level
    rms = float(wave.pow(2).mean().sqrt()) + 1e-8
    if rng.random() < 0.3:  # a long take: 1.5-3 s with the word somewhere inside
        total = int(rng.uniform(1.5, 3.0) * rate)
        lead = int(rng.uniform(0, 1) * max(0, total - wave.numel()))
        tail = max(0, total - wave.numel() - lead)
    else:
        lead, tail = (int(rng.uniform(0, 0.4) * rate) for _ in range(2))
    wave = F.pad(wave, (lead, tail))  # silence around the word, as uploads have
    kind = rng.random()
    if kind < 0.45:  # noise at 5-40 dB SNR under the word
        wave = wave + _noise(wave.numel(), rate, rng) * rms * float(10 ** (-rng.uniform(5, 40) / 20))
    elif kind < 0.8:  # a quiet room's noise floor, 35-60 dB under the word's peak
        peak = float(wave.abs().max())
        wave = wave + _noise(wave.numel(), rate, rng) * peak * float(10 ** (-rng.uniform(35, 60) / 20))
    if rng.random() < 0.1:  # a fixed 1 s window (laptop push-to-talk) that may clip the word's edges
        centre = lead + (wave.numel() - lead - tail) // 2 + int(rng.uniform(-0.25, 0.25) * rate)
        start = max(0, min(wave.numel() - rate, centre - rate // 2))
        wave = wave[start : start + rate]
    return wave.clamp(-1, 1).numpy()


def warp_vocal_tract(x: torch.Tensor, gen: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """Log-mels (B, 1, n_mels, frames) -> the same, with the frequency axis stretched by
    0.85-1.18 per example: a longer or shorter vocal tract, at the same pitch and tempo."""
    b, _, n_mels, frames = x.shape
    alpha = 0.85 + 0.33 * torch.rand(b, generator=gen)
    alpha = torch.where(torch.rand(b, generator=gen) < p, alpha, torch.ones(b))
    ys = torch.linspace(-1, 1, n_mels)
    src = ((ys[None] + 1) / alpha[:, None] - 1).clamp(-1, 1)  # output row <- input row / alpha
    xs = torch.linspace(-1, 1, frames)
    grid = torch.stack(torch.broadcast_tensors(xs[None, None, :], src[:, :, None]), dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)
