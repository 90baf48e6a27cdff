"""A person opens openmall in a browser: the home page links to the API, and the links work."""

from __future__ import annotations

import json


def test_home_page_leads_to_the_consoles_and_the_shop_api_answers_a_storefront(browser, live_server):
    page = browser.new_page()
    try:
        page.goto(live_server + "/")
        assert page.title() == "openmall"
        page.click("text=Developer console")
        page.wait_for_url("**/developers/login")
        assert page.get_by_role("heading").inner_text() == "Developer log in"
        # a storefront page in the browser calls the Shop API with its client id
        fetch = "id => fetch('/api/v2/shop/products', {headers: {'X-Client-Id': id}}).then(r => r.text())"
        body = json.loads(page.evaluate(fetch, "demo-storefront"))
        assert len(body["products"]) == 10 and body["products"][0]["price"].endswith(".00")
        refused = json.loads(page.evaluate(fetch, "not-an-app"))
        assert refused["error"]["code"] == 401
    finally:
        page.close()


def test_api_reference_renders_without_a_cdn(browser, live_server):
    page = browser.new_page()
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(live_server) else None)
    try:
        page.goto(live_server + "/docs")
        page.get_by_text("/api/v2/shop/products/{product_no}").first.wait_for(timeout=15_000)
        assert "openmall" in page.inner_text(".information-container")
        assert outside == []  # every asset came from openmall itself
    finally:
        page.close()
