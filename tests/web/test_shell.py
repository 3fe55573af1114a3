"""The shell of the web UI in Chromium: sign in, the project home, languages, errors."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import LiveServer, new_page, shot


def test_sign_in_and_project_home(browser: Any, live: LiveServer) -> None:
    context, page, checks = new_page(browser, live)
    page.goto("/p/alpha")
    assert "/login" in page.url  # no session: the sign-in page, and back after it
    checks.check()
    shot(page, "01-sign-in")
    page.fill("#username", "ed")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator("[role=alert]").inner_text().startswith("Wrong user name")
    checks.expected_error()
    page.fill("#password", "ed-password-1")
    page.click("button[type=submit]")
    page.wait_for_url("**/p/alpha")
    assert page.locator("h1").inner_text() == "alpha"
    assert page.locator(".asset-card").count() == 6
    checks.check()
    shot(page, "02-project-home")
    context.close()


def test_language_from_browser_and_switch(browser: Any, live: LiveServer) -> None:
    context, page, checks = new_page(browser, live, "ed", locale="zh-CN")
    page.goto("/p/alpha")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "资产" in page.locator("nav.mainnav").inner_text()
    shot(page, "03-project-home-zh-CN")
    page.click("details.menu summary")
    page.click("a[hreflang=en]")
    page.wait_for_url("**/p/alpha")
    assert "Assets" in page.locator("nav.mainnav").inner_text()
    checks.check()
    context.close()


def test_error_pages_and_sign_out(browser: Any, live: LiveServer) -> None:
    context, page, checks = new_page(browser, live, "vera")
    response = page.goto("/p/beta")  # a project vera is not in: not found, like the API
    assert response is not None and response.status == 404
    shot(page, "04-not-found")
    checks.expected_error()
    page.goto("/p/alpha")
    page.click("text=Sign out")
    page.wait_for_url("**/login")
    page.goto("/p/alpha")
    assert "/login" in page.url
    checks.check()
    context.close()
