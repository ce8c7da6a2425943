"""The HTML model card: self-contained, and rendered for real in headless Chromium (Playwright).

Chromium comes from Debian's package (.ci/run installs it); where it is absent the browser test skips
and says why — it is never faked.
"""

from __future__ import annotations

import re
import shutil

import pytest

import oddsline
from oddsline.report import write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# As root in a closed network: no sandbox, and none of Chromium's own background connections.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def card(tmp_path_factory, telco_table):
    model = oddsline.train(telco_table, target="churn", positive="Yes", calibrate="platt", threshold="cost:fp=1,fn=5")
    path = tmp_path_factory.mktemp("card") / "card.html"
    write_report(model, telco_table, path, n_bootstrap=200)
    return path


def test_card_is_self_contained_and_complete(card):
    text = card.read_text()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:|//)""", text), "an external reference"
    assert "<script" not in text and "@import" not in text
    assert not re.search(r"url\((?!#)", text), "a url() that is not a reference inside the page"
    for heading in ("Metrics", "Curves and decisions", "Coefficients", "Lineage"):
        assert f"<h2>{heading}" in text
    assert text.count("<svg") == 7
    assert (
        "bootstrap CI" in text and "before calibration" in text and "cost (false positive 1, false negative 5)" in text
    )


@pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on this machine (Debian package 'chromium'; .ci/run installs it)"
)
def test_card_renders_in_headless_chromium_without_network(card):
    playwright = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    requests: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.goto(card.as_uri())
        page.wait_for_load_state("load")
        boxes = page.eval_on_selector_all(
            "figure svg",
            "els => els.map(e => { const r = e.getBoundingClientRect();"
            " return [r.width, r.height, e.querySelectorAll('path, use, text').length]; })",
        )
        title = page.title()
        browser.close()
    assert title.startswith("oddsline model card")
    assert len(boxes) == 7
    for width, height, marks in boxes:
        assert width > 100 and height > 100 and marks > 10
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
