"""The authorize page with characters that OAuth error descriptions may not carry (RFC 6749 §4.1.2.1 allows
only %x20-21 / %x23-5B / %x5D-7E there): a quote, a backslash or non-ASCII in a parameter is an invalid
request, answered on the error page (400) and never sent to a redirect URI or answered with a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import host
from tests.oauth.conftest import AUTHORIZE, REDIRECT_URI
from tests.oauth.test_flow import assert_error_page

ODD = {"quote": '"', "backslash": "\\", "non_ascii": "é", "hangul": "한"}


@pytest.mark.parametrize("param", ["redirect_uri", "scope", "response_type"])
@pytest.mark.parametrize("odd", list(ODD), ids=list(ODD))
async def test_odd_characters_in_an_authorize_parameter_are_an_error_page(oauth, client, param, odd):
    value = {"redirect_uri": REDIRECT_URI, "scope": "mall.read_product", "response_type": "code"}[param]
    params = oauth.params(**{param: value + ODD[odd]})
    page = await client.get(httpx.URL(host("demo") + AUTHORIZE, params=params))  # no login
    assert_error_page(page, 400)
    assert "This app cannot be authorized" in page.text


async def test_odd_characters_on_the_consent_post_are_an_error_page_too(oauth, client):
    page = await client.post(httpx.URL(host("demo") + AUTHORIZE, params=oauth.params(scope='mall.read_product"')),
                             data={"decision": "allow"})  # fmt: skip
    assert page.status_code in (400, 403) and "location" not in page.headers


@pytest.mark.parametrize("field", ["grant_type", "code", "redirect_uri", "refresh_token", "client_id"])
async def test_odd_characters_at_the_token_endpoint_are_an_oauth_error(oauth, client, field):
    form = {"grant_type": "authorization_code", "code": "om_ac_x", "redirect_uri": REDIRECT_URI,
            "client_id": oauth.client_id, "client_secret": oauth.client_secret}  # fmt: skip
    form[field] = form.get(field, "") + 'é"\\'
    response = await client.post(host("demo") + "/api/v2/oauth/token", data=form)
    assert response.status_code in (400, 401), response.text
    assert isinstance(response.json()["error"], str)  # RFC 6749 §5.2's shape
