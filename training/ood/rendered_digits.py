"""OOD images: digits 0-9 drawn with installed TrueType fonts in the styles real uploads come
in (a scan of paper, a browser canvas export, a phone photo, white on black)."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from models.data import encode_image
from training.ood import seed_of

FONT_DIRS = (Path("/usr/share/fonts/truetype"), Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSansMono.ttf",
    "DejaVuSansCondensed-Oblique.ttf",
    "LiberationSans-Regular.ttf",
    "LiberationSerif-Italic.ttf",
    "LiberationSansNarrow-Bold.ttf",
    "FreeSans.ttf",
    "FreeSerifBold.ttf",
    "FreeMonoBoldOblique.ttf",
)
IMAGE_STYLES = ("paper", "canvas", "photo", "inverted")


@dataclass(frozen=True)
class OodImage:
    name: str
    label: int
    bytes: bytes
    description: str
    style: str = ""  # paper | canvas | photo | inverted
    font: str = ""


def installed_fonts(names: Iterable[str] = FONT_FILES) -> list[Path]:
    """Paths of the wanted fonts that are installed (searched by file name)."""
    found: list[Path] = []
    for name in names:
        for root in FONT_DIRS:
            hits = sorted(root.rglob(name)) if root.is_dir() else []
            if hits:
                found.append(hits[0])
                break
    if not found:
        raise RuntimeError(f"none of the fonts {list(names)} is installed (Debian: fonts-dejavu-core)")
    return found


def glyph_mask(font_path: Path, digit: int, height: int, stroke: int = 0) -> Image.Image:
    """An 'L' mask (255 = ink), cropped tight, whose glyph is about `height` pixels tall."""
    font = ImageFont.truetype(str(font_path), size=int(height * 1.4))
    text = str(digit)
    left, top, right, bottom = (int(v) for v in font.getbbox(text, stroke_width=stroke))
    pad = 4 + stroke
    mask = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(mask).text(
        (pad - left, pad - top), text, font=font, fill=255, stroke_width=stroke, stroke_fill=255
    )
    box = mask.getbbox() or (0, 0, mask.width, mask.height)
    mask = mask.crop(box)
    scale = height / mask.height
    return mask.resize((max(1, round(mask.width * scale)), height), Image.Resampling.LANCZOS)


def _paper(font: Path, digit: int, rng: np.random.Generator) -> tuple[bytes, str]:
    """Dark ink on white paper, a scan or a drawing app's export: RGB PNG, digit off-centre."""
    w, h = int(rng.integers(160, 400)), int(rng.integers(160, 400))
    mask = glyph_mask(font, digit, int(min(w, h) * rng.uniform(0.45, 0.75)))
    ink = np.array([rng.integers(0, 50), rng.integers(0, 50), rng.integers(20, 90)], dtype=np.float32)
    x = int(rng.integers(0, w - mask.width + 1))
    y = int(rng.integers(0, h - mask.height + 1))
    alpha = np.zeros((h, w), np.float32)
    alpha[y : y + mask.height, x : x + mask.width] = np.asarray(mask, np.float32) / 255
    rgb = 255 * (1 - alpha[..., None]) + ink * alpha[..., None]
    image = Image.fromarray(rgb.round().astype(np.uint8), "RGB")
    return encode_image(image), f"{w}x{h} RGB PNG, ink {ink.astype(int).tolist()}"


def _canvas(font: Path, digit: int, rng: np.random.Generator) -> tuple[bytes, str]:
    """A browser canvas export: 280x280 RGBA, transparent background, thick black strokes
    (anti-aliased edges live in the alpha channel, colour stays black)."""
    size = 280
    height = int(rng.integers(150, 220))
    mask = glyph_mask(font, digit, height, stroke=int(rng.integers(6, 12)))
    if mask.width > size - 10:
        mask = mask.resize((size - 10, mask.height), Image.Resampling.LANCZOS)
    x = int(rng.integers(5, size - mask.width - 4))
    y = int(rng.integers(5, size - mask.height - 4))
    alpha = Image.new("L", (size, size), 0)
    alpha.paste(mask, (x, y))
    rgba = Image.merge("RGBA", (*(Image.new("L", (size, size), 0),) * 3, alpha))
    return encode_image(rgba), f"280x280 RGBA PNG canvas, glyph {height}px"


def _photo(font: Path, digit: int, rng: np.random.Generator) -> tuple[bytes, str]:
    """A phone photo of a digit on paper: 640x480 JPEG (quality 70), grey-ish paper,
    uneven light, slight rotation, blur, sensor noise, digit not centred."""
    w, h = 640, 480
    height = int(rng.integers(120, 240))
    mask = glyph_mask(font, digit, height, stroke=int(rng.integers(0, 4)))
    angle = float(rng.uniform(-10, 10))
    mask = mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    x = int(rng.integers(20, w - mask.width - 19))
    y = int(rng.integers(20, h - mask.height - 19))
    alpha = np.zeros((h, w), np.float32)
    alpha[y : y + mask.height, x : x + mask.width] = np.asarray(mask, np.float32) / 255
    paper = np.array([rng.uniform(175, 215), rng.uniform(170, 210), rng.uniform(155, 195)], np.float32)
    ink = np.array([rng.uniform(25, 60), rng.uniform(25, 60), rng.uniform(35, 80)], np.float32)
    rgb = paper * (1 - alpha[..., None]) + ink * alpha[..., None]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)  # light falls off across the page, plus a vignette
    ramp = (np.cos(direction) * (xs / w - 0.5) + np.sin(direction) * (ys / h - 0.5)) * rng.uniform(0.05, 0.35)
    vignette = 0.12 * (((xs / w - 0.5) ** 2 + (ys / h - 0.5) ** 2) / 0.5)
    rgb *= (1.0 + ramp - vignette)[..., None]
    image = Image.fromarray(rgb.clip(0, 255).astype(np.uint8), "RGB")
    image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.8, 1.8))))
    noisy = np.asarray(image, np.float32) + rng.normal(0, 5, (h, w, 3))
    photo = Image.fromarray(noisy.clip(0, 255).astype(np.uint8), "RGB")
    return encode_image(photo, "JPEG", quality=70), (
        f"640x480 JPEG q70 photo, glyph {height}px, rotated {angle:.1f} deg"
    )


def _inverted(font: Path, digit: int, rng: np.random.Generator) -> tuple[bytes, str]:
    """White chalk-like digit on black: greyscale PNG, not pre-centred like MNIST."""
    side = int(rng.integers(64, 200))
    mask = glyph_mask(font, digit, int(side * rng.uniform(0.5, 0.8)), stroke=int(rng.integers(0, 3)))
    canvas = Image.new("L", (max(side, mask.width + 2), side), 0)
    x = int(rng.integers(0, canvas.width - mask.width + 1))
    y = int(rng.integers(0, side - mask.height + 1))
    canvas.paste(mask, (x, y))
    return encode_image(canvas), f"{canvas.width}x{side} L PNG, white on black"


_RENDERERS: dict[str, Callable[[Path, int, np.random.Generator], tuple[bytes, str]]] = {
    "paper": _paper,
    "canvas": _canvas,
    "photo": _photo,
    "inverted": _inverted,
}


def rendered_digits(
    fonts: Sequence[Path] | None = None, styles: Sequence[str] = IMAGE_STYLES
) -> list[OodImage]:
    """Digits 0-9 in every installed font of FONT_FILES and every style (deterministic)."""
    images: list[OodImage] = []
    for font in fonts or installed_fonts():
        for style in styles:
            for digit in range(10):
                name = f"{style}_{font.stem}_{digit}"
                data, what = _RENDERERS[style](font, digit, np.random.default_rng(seed_of(name)))
                images.append(OodImage(name, digit, data, f"{font.name}: {what}", style, font.stem))
    return images
