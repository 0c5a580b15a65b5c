"""Real-browser tests: the app served on 127.0.0.1, driven by Debian's Chromium, checked by axe.

The server runs in a thread on a migrated SQLite file of its own (the browser's requests come
from another thread, so the per-test rollback of the other tests cannot apply here).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.conftest import make_test_app, require
from tests.support.databases import migrate_to_head
from tracker.config import PROJECT_ROOT

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(scope="session")
def browser_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    folder = tmp_path_factory.mktemp("browser")
    app = make_test_app(f"sqlite:///{folder / 'browser.db'}", folder)
    migrate_to_head(app)
    return app


@pytest.fixture(scope="session")
def live_server(browser_app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, browser_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        require("Chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context()  # type: ignore[attr-defined]
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def check_accessibility() -> Callable[[object, str], None]:
    """Run axe's WCAG 2.2 A and AA rules on the page; keep a screenshot for people to look at."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(page: object, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}})
        assert results.violations_count == 0, results.generate_report()

    return check


def pass_second_factor(page: object) -> None:
    """On the code page after an admin's password, type the code their authenticator shows.

    Test admins share one secret (``tests.factories.TOTP_SECRET``); a code is accepted once, so
    if this person used the current one already, wait for the next, as a person would.
    """
    import time

    from tests.support.auth import current_code

    page.wait_for_load_state()  # type: ignore[attr-defined]
    if "/account/two-factor" not in page.url:  # type: ignore[attr-defined]
        return
    for _ in range(2):
        page.get_by_label("Code from your authenticator app").fill(current_code())  # type: ignore[attr-defined]
        page.get_by_role("button", name="Continue").click()  # type: ignore[attr-defined]
        page.wait_for_load_state()  # type: ignore[attr-defined]
        if "/account/two-factor" not in page.url:  # type: ignore[attr-defined]
            return
        time.sleep(31 - time.time() % 30)
    raise AssertionError("the second factor was refused twice")
