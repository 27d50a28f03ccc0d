"""/api/docs in Chromium: Swagger UI starts from the vendored files under the strict
CSP (no console error, nothing fetched from elsewhere) and lists the operations."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.no_rollback]


def test_api_docs_render_offline_under_the_csp(live_app, browser, shot):
    base = live_app.config["LIVE_URL"]
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    problems = []
    page.on("console", lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("request", lambda r: None if r.url.startswith(base) or r.url.startswith("data:")
            else problems.append(f"outside request: {r.url}"))
    page.goto(base + "/api/docs")
    page.wait_for_selector(".opblock-tag", timeout=20_000)
    assert page.locator(".info .title").inner_text().startswith("EMRS API")
    page.locator(".opblock-tag", has_text="Prescriptions").first.click()
    summary = page.locator(".opblock-summary", has_text="/api/prescriptions").first
    summary.wait_for()
    assert "prescriptions_list" in page.locator(".opblock-tag-section", has_text="Prescriptions").first.inner_text()
    shot(page, "api-docs")
    assert problems == []
    page.close()
