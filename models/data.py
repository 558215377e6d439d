"""The two data sets: MNIST and the Free Spoken Digit Dataset.

Both are read from DATA_DIR (see models.settings), laid out as mnist/*.gz and fsdd/recordings/.
When a set is absent it is downloaded from its publisher and checked against known
checksums; with no network the error names DATA_DIR so the fix is obvious.
"""

import gzip
import hashlib
import io
import re
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from PIL import Image

from models.settings import DEFAULT_DATA_DIR, ModelSettings

# md5 of the *uncompressed* IDX files, as published.
MNIST_FILES = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
FSDD_ARCHIVE_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/heads/master.zip"
# sha256 over the sorted "sha256  recordings/NAME" lines of all 3,000 recordings.
FSDD_RECORDINGS_SHA256 = "04e1baae96c6a26e39c623f2b01d0182ddae627ba0ac02a3cdc17ba2af99fd9b"
FSDD_NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")
FSDD_VALIDATION_TAKES = range(0, 5)  # the data set's official test split
FSDD_SELECTION_TAKES = range(5, 10)  # held out of training, used for model selection
MNIST_SELECTION_SIZE = 5_000  # last images of the training set, held out for model selection

Split = Literal["train", "selection", "validation"]
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


class DataUnavailableError(RuntimeError):
    """The data set is not in DATA_DIR and could not be downloaded."""


def cache_dir() -> Path:
    return ModelSettings().cache_dir


def _fetch(url: str, timeout: float = 60.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (fixed https URLs)
        return bytes(response.read())


def _no_data(what: str, data_dir: Path, errors: list[str]) -> DataUnavailableError:
    return DataUnavailableError(
        f"{what} is not in DATA_DIR={data_dir} and could not be downloaded "
        f"({'; '.join(errors) or 'no source tried'}). Set DATA_DIR to the folder that holds "
        f"mnist/ and fsdd/ (e.g. DATA_DIR={DEFAULT_DATA_DIR}), or run where the internet is reachable."
    )


# --------------------------------------------------------------------------- MNIST


def download_mnist(data_dir: Path, mirrors: tuple[str, ...] = MNIST_MIRRORS) -> None:
    """Fetch the four MNIST files into DATA_DIR/mnist, verifying each file's md5."""
    target = data_dir / "mnist"
    target.mkdir(parents=True, exist_ok=True)
    for name, md5 in MNIST_FILES.items():
        if (target / f"{name}.gz").exists():
            continue
        errors: list[str] = []
        for mirror in mirrors:
            try:
                packed = _fetch(f"{mirror}{name}.gz")
                raw = gzip.decompress(packed)
            except (urllib.error.URLError, OSError, EOFError) as exc:
                errors.append(f"{mirror}: {exc}")
                continue
            if hashlib.md5(raw).hexdigest() != md5:  # noqa: S324 (the publisher's checksum)
                errors.append(f"{mirror}{name}.gz: md5 mismatch")
                continue
            (target / f"{name}.gz").write_bytes(packed)
            break
        else:
            raise _no_data(f"MNIST file {name}", data_dir, errors)


def _read_idx(data_dir: Path, name: str) -> np.ndarray:
    """One MNIST IDX file (gzipped in DATA_DIR/mnist), checked against its published md5.

    IDX: two zero bytes, a type byte (0x08 = uint8), the number of dimensions, then each
    dimension as a big-endian uint32, then the values."""
    data = gzip.decompress((data_dir / "mnist" / f"{name}.gz").read_bytes())
    if hashlib.md5(data).hexdigest() != MNIST_FILES[name]:  # noqa: S324
        raise DataUnavailableError(f"{data_dir}/mnist/{name}.gz is corrupt (md5 mismatch)")
    dims = data[3]
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=dims, offset=4))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_mnist(data_dir: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N, 28, 28], labels int64 [N]) of the MNIST train or test set."""
    data_dir = Path(data_dir)
    if not all((data_dir / "mnist" / f"{n}.gz").exists() for n in MNIST_FILES):
        download_mnist(data_dir)
    prefix = "train" if train else "t10k"
    images = _read_idx(data_dir, f"{prefix}-images-idx3-ubyte")
    labels = _read_idx(data_dir, f"{prefix}-labels-idx1-ubyte")
    return images, labels.astype(np.int64)


def encode_image(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    """The bytes of `image` saved as `fmt` (a Pillow format name), as an uploader would send them."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def mnist_png(image: np.ndarray) -> bytes:
    """PNG bytes of one 28x28 uint8 MNIST image (what the index stores and serves)."""
    return encode_image(Image.fromarray(np.asarray(image, dtype=np.uint8), mode="L"))


# --------------------------------------------------------------------------- FSDD


@dataclass(frozen=True)
class FsddItem:
    path: Path
    label: int
    speaker: str
    take: int
    name: str


def fsdd_checksum(recordings: Path) -> str:
    lines = []
    for path in sorted(recordings.glob("*.wav"), key=lambda p: f"recordings/{p.name}"):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  recordings/{path.name}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def download_fsdd(data_dir: Path, url: str = FSDD_ARCHIVE_URL) -> None:
    """Fetch the FSDD repository archive and keep its recordings/ folder, checksum-verified."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(_fetch(url, timeout=300)))
    except (urllib.error.URLError, OSError, zipfile.BadZipFile) as exc:
        raise _no_data("FSDD", data_dir, [f"{url}: {exc}"]) from exc
    staging = data_dir / "fsdd" / "recordings.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for member in archive.namelist():
        parts = member.split("/")
        if len(parts) >= 2 and parts[-2] == "recordings" and FSDD_NAME.match(parts[-1]):
            (staging / parts[-1]).write_bytes(archive.read(member))
    if fsdd_checksum(staging) != FSDD_RECORDINGS_SHA256:
        shutil.rmtree(staging)
        raise DataUnavailableError(f"FSDD from {url} does not match the expected checksum")
    staging.replace(data_dir / "fsdd" / "recordings")


def fsdd_items(data_dir: Path, split: Split) -> list[FsddItem]:
    """Recordings of one split, sorted by name. Validation = takes 0-4 (300 clips)."""
    recordings = Path(data_dir) / "fsdd" / "recordings"
    if not recordings.is_dir():
        download_fsdd(Path(data_dir))
    items = []
    for path in sorted(recordings.glob("*.wav")):
        match = FSDD_NAME.match(path.name)
        if not match:
            continue
        label, speaker, take = int(match[1]), match[2], int(match[3])
        in_split = {
            "validation": take in FSDD_VALIDATION_TAKES,
            "selection": take in FSDD_SELECTION_TAKES,
            "train": take >= FSDD_SELECTION_TAKES.stop,
        }[split]
        if in_split:
            items.append(FsddItem(path, label, speaker, take, path.name))
    return items
