"""In a real browser: an operator opens "Change password" from the back office header, changes the password and
sees it confirmed; the new password is the one that logs in."""

from __future__ import annotations

from openmall.demo_data import DEMO_OPERATOR

NEW = "a brand new passphrase"
SCREENSHOT = "/tmp/password_page.png"


def test_an_operator_changes_the_password_in_a_browser(browser, live_server):
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(live_server + "/admin/login")
        page.fill("#login", DEMO_OPERATOR[0])
        page.fill("#password", DEMO_OPERATOR[1])
        page.click("button[type=submit]")
        page.wait_for_url("**/admin/apps")
        page.click("header >> text=Change password")
        page.wait_for_url("**/admin/account/password")
        assert page.get_by_role("heading", level=1).inner_text() == "Change password"

        page.fill("#current_password", DEMO_OPERATOR[1])
        page.fill("#new_password", NEW)
        page.fill("#repeat_password", NEW + "?")
        page.click("button.primary")
        assert "differ" in page.get_by_role("alert").inner_text()

        page.fill("#current_password", DEMO_OPERATOR[1])
        page.fill("#new_password", NEW)
        page.fill("#repeat_password", NEW)
        page.click("button.primary")
        page.wait_for_url("**/admin/account/password")
        assert "Your password was changed" in page.get_by_role("status").inner_text()
        page.screenshot(path=SCREENSHOT, full_page=True)

        page.goto(live_server + "/admin/apps")  # still logged in
        assert page.get_by_role("heading", level=1).inner_text() == "Installed apps"
        page.click("text=Log out")
        page.wait_for_url("**/admin/login")
        page.fill("#login", DEMO_OPERATOR[0])
        page.fill("#password", NEW)
        page.click("button[type=submit]")
        page.wait_for_url("**/admin/apps")
    finally:
        context.close()
