"""The neuron explorer's data and its saved page, the latter driven in a real browser (system chromium)."""

import re
import shutil

import pytest
from sae_fixtures import planted, trained_sae

from monorec.explorer import explorer_html, explorer_payload, write_explorer
from monorec.sae.scan import TopActivations


@pytest.fixture(scope="module")
def payload():
    data, _, _, model = planted()
    sae, _, report = trained_sae()
    encode = lambda embeddings: sae.encode(embeddings).codes  # noqa: E731
    return explorer_payload(report.neurons, encode, model.item_embeddings(), data.items, "planted")


def test_payload_matches_the_report_and_the_codes(payload):
    data, _, _, model = planted()
    sae, _, report = trained_sae()
    codes = sae.encode(model.item_embeddings()).codes.detach()
    top = TopActivations.of(codes, 10)
    assert len(payload["neurons"]) == 24 and payload["n_items"] == data.n_items
    assert payload["purity_k"] == [10, 20, 50] and payload["popularity_k"] == 20
    for j, neuron in enumerate(payload["neurons"]):
        histogram = neuron["histogram"]
        assert sum(histogram["counts"]) + histogram["silent"] == data.n_items  # every item counted once
        assert histogram["silent"] == int((codes[:, j] <= 0).sum())
        shown = [item["item_id"] for item in neuron["top_items"]]
        assert shown == data.item_ids[top.indices[j][top.values[j] > 0].numpy()].tolist()
        assert neuron["label"] == (report.neurons["label"][j] if isinstance(report.neurons["label"][j], str) else None)
    horror = report.mono.concepts["Horror"].neuron
    assert payload["neurons"][horror]["label"] == "Horror" and payload["neurons"][horror]["purity"]["10"] == 1.0


def test_the_saved_page_is_self_contained(payload, tmp_path):
    page = write_explorer(tmp_path, payload).read_text()
    urls = set(re.findall(r"https?://[^\s\"'<>]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}  # an SVG namespace name, never fetched: no CDN, works offline
    assert '"title":"planted"' in page and "</script>" not in page.split('<script id="data"')[1].split("</script>")[0]
    assert (
        explorer_html().count("/*DATA*/") == 0 and '<script id="data" type="application/json">null' in explorer_html()
    )


def _browser():
    playwright = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("needs Debian's chromium (apt install chromium); .ci/run installs it")
    return playwright.sync_playwright(), executable


def test_saved_page_in_a_browser_searches_and_opens_a_neuron(payload, tmp_path):
    data, _, _, model = planted()
    sae, _, report = trained_sae(n_latents=70)  # Last.FM's size: the page's load time is measured at 70
    encode = lambda embeddings: sae.encode(embeddings).codes  # noqa: E731
    seventy = write_explorer(
        tmp_path / "70", explorer_payload(report.neurons, encode, model.item_embeddings(), data.items)
    )
    path = write_explorer(tmp_path, payload)
    manager, executable = _browser()
    with manager as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        page = browser.new_page()
        try:
            page.goto(seventy.as_uri())
            page.wait_for_selector("body[data-ready]")
            assert page.locator("#neurons tbody tr").count() == 70
            print(f"explorer with 70 neurons ready in {page.get_attribute('body', 'data-ready')} ms")
            page.goto(path.as_uri())
            page.wait_for_selector("body[data-ready]")
            assert page.locator("#user-panel").is_hidden() and page.locator("#static-note").is_visible()
            page.fill("#search", "horror")
            labels = page.locator("#neurons tbody tr td:nth-child(2)").all_text_contents()
            assert labels and set(labels) == {"Horror"}  # the planted genre is found by search
            best = trained_sae()[2].mono.concepts["Horror"].neuron
            page.click(f'#neurons tbody tr[data-neuron="{best}"]')
            assert page.text_content("#neuron-title").startswith(f"Neuron {best}: Horror")
            assert page.locator("#histogram rect").count() == 20
            assert all("Horror" in name for name in page.locator("#neuron-items li").all_text_contents()[:5])
            page.fill("#search", "Polka")
            assert page.text_content("#search-message") == 'No neuron is labelled like "Polka".'
            page.fill("#search", "999")
            assert page.text_content("#search-message") == "No neuron 999: this SAE has neurons 0..23."
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))  # kept with pytest's tmp files
            raise
        finally:
            browser.close()
