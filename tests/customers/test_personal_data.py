"""Customers' names, emails and phone numbers need mall.read_personal: without it the Admin API masks them (as
Cafe24 does), and searching by name or email is refused; the Shop API shows members their own data in full."""

from __future__ import annotations

import pytest

from openmall.kernel.personal import mask_detail, mask_email, mask_name, mask_phone
from tests.conftest import assert_error
from tests.customers.conftest import ADMIN, admin_token, bearer, install_admin, login, sign_up

pytestmark = pytest.mark.usefixtures("malls")
CUSTOMERS = f"{ADMIN}/customers"


@pytest.mark.parametrize(
    ("mask", "given", "shown"),
    [
        (mask_name, "홍길동", "홍*동"),
        (mask_name, "남궁민수", "남**수"),
        (mask_name, "홍길", "홍*"),
        (mask_name, "홍", "*"),
        (mask_name, "Jane Kim", "J*** **m"),
        (mask_email, "jane@example.com", "j***@example.com"),
        (mask_email, "j@example.com", "j***@example.com"),
        (mask_phone, "010-1234-5678", "010-****-5678"),
        (mask_phone, "01012345678", "010****5678"),
        (mask_phone, "+82 10 1234 5678", "+82 ** **** 5678"),
        (mask_detail, "3F, Room 301", "*** **** ***"),
    ],
)
def test_the_masks(mask, given: str, shown: str) -> None:
    assert mask(given) == shown


@pytest.fixture
async def tokens(app) -> dict[str, dict[str, str]]:
    tool = await install_admin(app)
    return {
        "plain": await admin_token(app, tool, ["mall.read_customer", "mall.write_customer"]),
        "personal": await admin_token(app, tool, ["mall.read_customer", "mall.read_personal"]),
        "write_personal": await admin_token(app, tool, ["mall.read_customer", "mall.write_personal"]),
    }


async def test_without_the_scope_names_emails_and_phones_are_masked(client, tokens):
    jane = await sign_up(client, "jane", name="홍길동", email="jane@example.com", mobile="010-1234-5678")
    one = f"{CUSTOMERS}/{jane['member_no']}"
    for answer in [(await client.get(CUSTOMERS, headers=tokens["plain"])).json()["customers"][0],
                   (await client.get(one, headers=tokens["plain"])).json()["customer"]]:  # fmt: skip
        assert (answer["name"], answer["email"], answer["mobile"]) == ("홍*동", "j***@example.com", "010-****-5678")
        assert answer["member_id"] == "jane" and answer["member_no"] == jane["member_no"]  # the app's keys stay
    only = (await client.get(one, headers=tokens["plain"], params={"fields": "name"})).json()
    assert only == {"customer": {"name": "홍*동"}}

    for token in ("personal", "write_personal"):
        full = (await client.get(one, headers=tokens[token])).json()["customer"]
        assert (full["name"], full["email"], full["mobile"]) == ("홍길동", "jane@example.com", "010-1234-5678")


async def test_searching_by_name_or_email_needs_the_scope(client, tokens):
    await sign_up(client, "jane", name="홍길동", email="jane@example.com")
    for params in ({"name": "길동"}, {"email": "jane@example.com"}):
        for path in (CUSTOMERS, f"{CUSTOMERS}/count"):
            error = assert_error(await client.get(path, headers=tokens["plain"], params=params), 403,
                                 "mall.read_personal")  # fmt: skip
            assert error["more_info"]["required_scope"] == "mall.read_personal"
        found = (await client.get(CUSTOMERS, headers=tokens["personal"], params=params)).json()["customers"]
        assert [c["member_id"] for c in found] == ["jane"]
    by_id = (await client.get(CUSTOMERS, headers=tokens["plain"], params={"member_id": "jane"})).json()
    assert [c["member_id"] for c in by_id["customers"]] == ["jane"]


async def test_the_member_sees_their_own_data_in_full(client, tokens):
    await sign_up(client, "jane", name="홍길동", email="jane@example.com", mobile="010-1234-5678")
    await client.get(CUSTOMERS, headers=tokens["plain"])  # an Admin call before, on the same app
    me = await client.get("/api/v2/shop/profile", headers=bearer((await login(client, "jane"))["access_token"]))
    assert me.status_code == 200, me.text
    profile = me.json()["profile"]
    assert (profile["name"], profile["email"], profile["mobile"]) == ("홍길동", "jane@example.com", "010-1234-5678")
