"""A live EMRS (waitress in a thread, its own database) and Debian's Chromium via
Playwright. Skips with a reason when Chromium is absent, unless
EMRS_REQUIRE_BROWSER=1 (CI), where that is a failure."""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.browser


def _require_browser():
    missing = None
    if not Path(CHROMIUM).exists():
        missing = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed"
    if missing:
        if os.environ.get("EMRS_REQUIRE_BROWSER") == "1":
            pytest.fail(missing)
        pytest.skip(missing)


@pytest.fixture(scope="session")
def live_app():
    _require_browser()
    from flask_migrate import upgrade

    from emrs import create_app
    from emrs.extensions import db

    from ..conftest import make_config
    from ..dbutil import drop_database

    app = create_app(make_config("browser", WTF_CSRF_ENABLED=True))
    with app.app_context():
        upgrade()
    from waitress.server import create_server
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    def serve():
        try:
            server.run()
        except OSError:  # the socket closed under select() at teardown
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    app.config["LIVE_URL"] = f"http://127.0.0.1:{port}"
    yield app
    server.close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    drop_database("browser")


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def shot():
    ARTIFACTS.mkdir(exist_ok=True)

    def _shot(page, name):
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    return _shot


@pytest.fixture(autouse=True)
def _close_pages(request):
    """Close every page a test left open: Today's Patients polls its list every 15 s, and a
    page left polling the live server would keep sending requests while later (non-browser)
    tests run."""
    yield
    if "browser" in request.fixturenames:
        b = request.getfixturevalue("browser")
        for ctx in list(b.contexts):
            ctx.close()
