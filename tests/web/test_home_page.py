"""A person opens openmall in a browser: the home page links to the API, and the links work."""

from __future__ import annotations

import json


def test_home_page_leads_to_the_shop_api(browser, live_server):
    page = browser.new_page()
    try:
        page.goto(live_server + "/")
        assert page.title() == "openmall"
        page.click("text=Shop API: products")
        page.wait_for_url("**/api/v2/shop/products")
        body = json.loads(page.inner_text("body"))
        assert len(body["products"]) == 10 and body["products"][0]["price"].endswith(".00")
    finally:
        page.close()
