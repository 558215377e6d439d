"""Data sets: splits as specified, and the download path against a local HTTP server."""

import functools
import gzip
import http.server
import io
import threading
import zipfile

import numpy as np
import pytest

from models import data
from models.settings import ModelSettings

SHARED = ModelSettings().data_dir


def test_splits_have_the_documented_sizes():
    assert len(data.fsdd_items(SHARED, "validation")) == 300
    assert len(data.fsdd_items(SHARED, "train")) + len(data.fsdd_items(SHARED, "selection")) == 2700
    names = {i.name for i in data.fsdd_items(SHARED, "validation")}
    assert names.isdisjoint(i.name for i in data.fsdd_items(SHARED, "train"))
    images, labels = data.load_mnist(SHARED, train=False)
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert sorted(np.unique(labels)) == list(range(10))


def test_mnist_png_is_lossless():
    from PIL import Image

    images, _ = data.load_mnist(SHARED, train=False)
    decoded = np.asarray(Image.open(io.BytesIO(data.mnist_png(images[0]))))
    assert np.array_equal(decoded, images[0])


@pytest.fixture
def local_server(tmp_path):
    """A real HTTP server on loopback serving a folder laid out like the publishers'."""
    root = tmp_path / "www"
    (root / "mnist").mkdir(parents=True)
    for name in data.MNIST_FILES:
        (root / "mnist" / f"{name}.gz").write_bytes((SHARED / "mnist" / f"{name}.gz").read_bytes())
    with zipfile.ZipFile(root / "fsdd.zip", "w") as archive:
        for wav in sorted((SHARED / "fsdd" / "recordings").glob("*.wav")):
            archive.write(wav, f"free-spoken-digit-dataset-master/recordings/{wav.name}")
        archive.writestr("free-spoken-digit-dataset-master/README.md", "readme")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()


@pytest.mark.slow
def test_download_from_a_mirror_verifies_and_stores_the_files(local_server, tmp_path):
    url, _ = local_server
    target = tmp_path / "data"
    data.download_mnist(target, mirrors=("http://127.0.0.1:9/nothing-here/", f"{url}/mnist/"))
    for name in data.MNIST_FILES:
        assert (target / "mnist" / f"{name}.gz").exists()
    data.download_fsdd(target, url=f"{url}/fsdd.zip")
    assert data.fsdd_checksum(target / "fsdd" / "recordings") == data.FSDD_RECORDINGS_SHA256
    assert len(data.fsdd_items(target, "validation")) == 300


def test_a_corrupt_download_is_refused(local_server, tmp_path):
    url, root = local_server
    bad = root / "bad"
    bad.mkdir()
    for name in data.MNIST_FILES:
        (bad / f"{name}.gz").write_bytes(gzip.compress(b"not mnist"))
    with pytest.raises(data.DataUnavailableError, match="md5 mismatch"):
        data.download_mnist(tmp_path / "data", mirrors=(f"{url}/bad/",))
    assert not list((tmp_path / "data" / "mnist").glob("*.gz"))


def test_no_network_names_data_dir(tmp_path):
    with pytest.raises(data.DataUnavailableError, match="DATA_DIR"):
        data.download_mnist(tmp_path, mirrors=("http://127.0.0.1:9/",))
    with pytest.raises(data.DataUnavailableError, match="DATA_DIR"):
        data.download_fsdd(tmp_path, url="http://127.0.0.1:9/fsdd.zip")
