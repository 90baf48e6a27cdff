"""What the customers domain emits (see kernel.events): sign-ups, logins (with the campaign's
``trackingKey``), withdrawals and every change of a member's mileage balance."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from openmall.kernel.events import register
from openmall.kernel.timeutil import iso

READ_CUSTOMER, READ_MILEAGE = "mall.read_customer", "mall.read_mileage"

MEMBER_REGISTERED = register(
    "member.registered",
    READ_CUSTOMER,
    "A member signed up (with an id and password, or at a first OpenID login)",
    {"member_no": 7, "member_id": "jane", "provider": "password", "group_no": 1,
     "registered_at": "2026-11-27T18:00:00+09:00"},
)  # fmt: skip
MEMBER_LOGGED_IN = register(
    "member.logged_in",
    READ_CUSTOMER,
    "A member logged in; tracking_key is the campaign link's ?trackingKey= passed to the login API",
    {"member_no": 7, "member_id": "jane", "tracking_key": "kakao-friendtalk-1124", "provider": "password",
     "logged_in_at": "2026-11-27T18:00:00+09:00"},
)  # fmt: skip
MEMBER_WITHDRAWN = register(
    "member.withdrawn",
    READ_CUSTOMER,
    "A member withdrew: personal data erased, orders kept",
    {"member_no": 7, "withdrawn_at": "2026-11-27T18:00:00+09:00"},
)
MILEAGE_CHANGED = register(
    "mileage.changed",
    READ_MILEAGE,
    "A member's mileage balance changed (earn, spend, restore, adjust)",
    {"member_no": 7, "entry_no": 31, "kind": "SPEND", "amount": "-3000.00", "balance": "2000.00",
     "order_id": "20261124-0000001", "reason": "used at checkout", "changed_at": "2026-11-27T18:00:00+09:00"},
)  # fmt: skip


async def mall_time(session: AsyncSession, when: datetime) -> str:
    """``when`` in ISO 8601 in the session's mall's time zone (looked up once per session)."""
    tz = session.info.get("mall_timezone")
    if tz is None:
        from openmall.malls import service as malls

        tz = (await malls.get_mall(session, session.info["mall_id"])).timezone
        session.info["mall_timezone"] = tz
    return iso(when, tz)
