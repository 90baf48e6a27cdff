"""Migration 0013 on rows written before it: login ids and emails in their normal form (clashes kept as they
were), member tokens each in a family of their own with no known login time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from openmall.kernel.db import create_engine
from openmall.kernel.migrate import run_async
from tests.conftest import add_mall

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MEMBER = ("INSERT INTO members (mall_id, member_id, email, name, status, mileage_balance, failed_logins, created_at, "
          "updated_at) VALUES (:mall, :id, :email, '', 'ACTIVE', 0, 0, :now, :now)")  # fmt: skip
DEVELOPER = ("INSERT INTO developers (email, name, password_hash, failed_logins, created_at) "
             "VALUES (:email, 'D', 'x', 0, :now)")  # fmt: skip
OPERATOR = ("INSERT INTO operators (mall_id, login_id, name, password_hash, failed_logins, created_at) "
            "VALUES (:mall, :id, 'O', 'x', 0, :now)")  # fmt: skip
TOKEN = ("INSERT INTO member_tokens (mall_id, member_no, access_digest, refresh_digest, keep_login, issued_at, "
         "access_expires_at, refresh_expires_at) "
         "VALUES ('demo', :no, 'a', 'r', false, :now, :later, :later)")  # fmt: skip


@pytest.fixture
async def before_0013(app, database_url):
    await add_mall(app, "demo")
    await add_mall(app, "other")
    await app.state.engine.dispose()
    await run_async(database_url, "downgrade", "0012")
    yield database_url
    await run_async(database_url, "upgrade", "head")


async def test_0013_normalises_ids_and_emails_and_keeps_clashes(before_0013):
    engine = create_engine(before_0013)
    async with engine.begin() as conn:
        for mall, member_id, email in [
            ("demo", "case123", "a@example.com"), ("demo", "Case123", "Ｊａｎｅ@Example.COM"),
            ("demo", "MixedOnly", None), ("other", "Case123", "jane\u200b@example.com"),
        ]:  # fmt: skip
            await conn.execute(text(MEMBER), {"mall": mall, "id": member_id, "email": email, "now": NOW})
        for email in ("ｊａｎｅ@example.com", "bob@ｅｘａｍｐｌｅ.com", "JANE@example.com"):
            await conn.execute(text(DEVELOPER), {"email": email, "now": NOW})
        await conn.execute(text(OPERATOR), {"mall": "demo", "id": "Boss", "now": NOW})
        first = await conn.scalar(text("SELECT min(member_no) FROM members"))
        await conn.execute(text(TOKEN), {"no": first, "now": NOW, "later": NOW + timedelta(hours=12)})
    await engine.dispose()

    await run_async(before_0013, "upgrade", "0013")

    engine = create_engine(before_0013)
    async with engine.connect() as conn:
        members = (await conn.execute(text("SELECT mall_id, member_id, email FROM members ORDER BY member_no"))).all()
        developers = (await conn.execute(text("SELECT email FROM developers ORDER BY developer_no"))).scalars().all()
        operators = (await conn.execute(text("SELECT login_id FROM operators"))).scalars().all()
        token = (await conn.execute(text("SELECT family_id, authenticated_at FROM member_tokens"))).one()
    await engine.dispose()
    assert [tuple(m) for m in members] == [
        ("demo", "case123", "a@example.com"),
        ("demo", "Case123", "jane@example.com"),  # its normal form is taken in its mall: kept as it was
        ("demo", "mixedonly", None),
        ("other", "case123", "jane\u200b@example.com"),  # another mall; an invisible character is left alone
    ]
    # the storefront's developer (from add_mall) first; the oldest of two look-alikes gets the normal form
    assert developers[1:] == ["jane@example.com", "bob@example.com", "JANE@example.com"]
    assert "boss" in operators
    assert token.family_id and token.authenticated_at is None
