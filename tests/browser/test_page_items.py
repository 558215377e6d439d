"""The page's own items in a real Chromium: after a file search (a PNG, or an M4A as phones
record), "Add to the index" with the predicted digit pre-filled; the added item comes back
marked "yours" in the results, and its Delete button takes it out of the index.

The module serves its own collection (a module-scoped `live_server`), so the items it adds
never reach the other page tests' results.
"""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import store
from models.data import fsdd_items, load_mnist, mnist_png
from models.wav import read_wav
from tests.browser.helpers import TIMEOUT_MS, draw, one_stroke, poll, searches, shot, wait_searches
from tests.service.helpers import LiveServer, build_index, live_server_for, settings_for

pytestmark = pytest.mark.browser
COLLECTION = "PageItems"


@pytest.fixture(scope="module")
def live_server(weaviate_settings: store.StoreSettings, service_checkpoint: Path) -> Iterator[LiveServer]:
    build_index(weaviate_settings, COLLECTION, service_checkpoint, 40)
    settings = settings_for(
        weaviate_settings, collection=COLLECTION, checkpoint=service_checkpoint, device="cpu"
    )
    with live_server_for(settings) as server:
        yield server


@pytest.fixture(scope="module")
def new_png(weaviate_settings: store.StoreSettings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MNIST training image: not in the index, so the added item is its only exact match."""
    images, _ = load_mnist(weaviate_settings.data_dir, train=True)
    path = tmp_path_factory.mktemp("upload") / "mine.png"
    path.write_bytes(mnist_png(images[3]))
    return path


@pytest.fixture(scope="module")
def new_m4a(weaviate_settings: store.StoreSettings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An FSDD training take (not in the index) as a phone saves a voice memo: AAC in M4A."""
    from tests.encoded_media import encode_audio

    take = fsdd_items(weaviate_settings.data_dir, "train")[7].path
    samples, rate = read_wav(take.read_bytes(), 8_000, 8_000, 10.0)
    path = tmp_path_factory.mktemp("upload") / "memo.m4a"
    path.write_bytes(encode_audio(samples[0], rate, "m4a-aac"))
    return path


@pytest.mark.parametrize(("upload", "modality"), [("new_png", "image"), ("new_m4a", "audio")])
def test_add_a_file_to_the_index_then_delete_it(
    ready_page, live_server: LiveServer, request: pytest.FixtureRequest, upload: str, modality: str
) -> None:
    page = ready_page
    page.select_option("#target", modality)  # the upload's own modality: the added item can show up
    before = searches(page)
    page.set_input_files("#file", str(request.getfixturevalue(upload)))
    wait_searches(page, before)
    form = page.locator("#add-form")
    form.wait_for(state="visible", timeout=TIMEOUT_MS)
    predicted = page.text_content("#u-label")
    assert page.input_value("#add-label") == predicted  # pre-filled from the prediction
    assert page.locator("#results li.mine").count() == 0
    shot(page, f"items-01-offer-{modality}")

    before = searches(page)
    page.click("#add-submit")
    poll(page, lambda: form.get_attribute("data-added") is not None, "the item to be added")
    item_id = form.get_attribute("data-added")
    wait_searches(page, before)  # the search runs again and finds the item at once
    first = page.locator("#results li.result").first
    assert first.get_attribute("data-id") == item_id
    assert first.get_attribute("data-source") == "user" and "mine" in first.get_attribute("class")
    assert first.locator(".badge").text_content() == "yours"
    assert page.locator("#results li.mine").count() == 1
    assert "In the index" in page.text_content("#add-state")
    map_marks = page.locator("#map")
    poll(page, lambda: map_marks.get_attribute("data-user-points") == "1", "the map to mark the item")
    item = httpx.get(f"{live_server.url}/items/{item_id}", timeout=30).json()
    assert (item["source"], str(item["label"]), item["label_source"]) == ("user", predicted, "given")
    assert item["modality"] == modality
    shot(page, f"items-02-added-and-marked-{modality}")

    before = searches(page)
    first.locator("button.delete").click()
    wait_searches(page, before)
    assert item_id not in page.eval_on_selector_all("#results li.result", "els => els.map(e => e.dataset.id)")
    assert page.locator("#results li.mine").count() == 0
    assert httpx.get(f"{live_server.url}/items/{item_id}", timeout=30).status_code == 404
    poll(page, lambda: map_marks.get_attribute("data-user-points") == "0", "the map to drop the item")
    shot(page, f"items-03-deleted-{modality}")


def test_data_set_results_have_no_delete_control(ready_page, new_png: Path) -> None:
    page = ready_page
    before = searches(page)
    page.set_input_files("#file", str(new_png))
    wait_searches(page, before)
    assert page.locator("#results li.result").count() == 5
    assert page.locator("#results button.delete").count() == 0
    assert page.locator("#add-form").is_visible()
    page.fill("#text-query", "seven")
    before = searches(page)
    page.click("#text-search")
    wait_searches(page, before)
    assert page.locator("#add-form").is_hidden()  # a typed digit is nothing to add


def test_a_drawing_is_offered_with_its_predicted_digit(ready_page) -> None:
    page = ready_page
    before = searches(page)
    draw(page, one_stroke())
    wait_searches(page, before)
    page.locator("#add-form").wait_for(state="visible", timeout=TIMEOUT_MS)
    assert page.input_value("#add-label") == page.text_content("#u-label")
    assert page.is_enabled("#add-submit") and page.text_content("#add-state") == ""
