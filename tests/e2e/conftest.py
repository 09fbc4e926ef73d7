"""Browser fixtures: the whole app with the real engine on a free port, and headless Debian Chromium."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/web_support.py

from web_support import running_app, staff_config  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if not CHROMIUM.exists():
        skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: install the Debian `chromium` package")
        for item in items:
            if "e2e" in item.nodeid:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def live_app(tmp_path_factory, assistant):
    yield from running_app(assistant, tmp_path_factory.mktemp("e2e-data"), staff_config())


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageWatch:
    """What a page did that it must not: dialogs (alert) and requests to other hosts."""

    def __init__(self) -> None:
        self.dialogs: list[str] = []
        self.requests: list[str] = []


@pytest.fixture
def watch() -> PageWatch:
    return PageWatch()


@pytest.fixture
def page(browser, live_app, watch):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.on("request", lambda request: watch.requests.append(request.url))
    page = context.new_page()

    def on_dialog(dialog) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    context.on("dialog", on_dialog)
    page.goto(live_app.url + "/")
    page.get_by_label("Your question").wait_for()
    yield page
    context.close()


HOSTILE_DOC = """---
id: hostile-doc
title: "LDN <img src=x onerror=\\"window.__xss=1;alert(1)\\"> pain study"
kind: study-summary
reference: "<script>window.__xss=2</script> Evil J. 2020"
pmid: "12345\\" onmouseover=\\"alert(3)"
doi: "10.1000/x\\"><script>alert(4)</script>"
url: "javascript:alert(5)"
design: "<b onmouseover=alert(6)>randomized trial</b>"
year: 2020
---
# Hostile <svg onload="window.__xss=7"> heading

Low-dose naltrexone <script>window.__xss=8</script> reduced fibromyalgia pain by a third in this trial
<img src=x onerror="window.__xss=9;alert(9)">. The dose of low-dose naltrexone was 4.5 mg daily
<iframe src="javascript:alert(10)"></iframe> [link](javascript:alert(11)) **bold**.
"""


@pytest.fixture(scope="session")
def hostile_app(tmp_path_factory):
    """The whole app on a corpus with a document full of markup and script (hash embedder: fast)."""
    import shutil

    from support import SMALL_CORPUS, HashEmbedder

    from ldnqa import Assistant
    from ldnqa.config import Settings

    folder = tmp_path_factory.mktemp("hostile")
    shutil.copytree(SMALL_CORPUS, folder / "corpus")
    (folder / "corpus" / "hostile.md").write_text(HOSTILE_DOC, encoding="utf-8")
    assistant = Assistant.load(folder / "corpus", folder / "index", embedder=HashEmbedder(),
                               settings=Settings(model="test-hash-embedder"), log=lambda m: None)
    assert [f for f, _ in assistant.skipped] == []
    yield from running_app(assistant, folder / "data", staff_config())
