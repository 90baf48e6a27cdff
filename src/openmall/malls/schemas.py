from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from openmall.kernel.schemas import NoControls

MALL_ID = re.compile(r"^[a-z][a-z0-9-]{1,30}[a-z0-9]$")
RESERVED = frozenset({"www", "api", "admin", "static", "mail", "docs"})
CURRENCIES = frozenset({"KRW", "USD", "JPY", "EUR", "CNY", "TWD", "VND", "PHP", "GBP"})


class MallCreate(BaseModel):
    mall_id: str = Field(description="Lowercase letters, digits and hyphens; the mall's sub-domain.")
    name: Annotated[str, Field(min_length=1, max_length=100), NoControls]
    currency: str = "KRW"
    timezone: str = "Asia/Seoul"

    @field_validator("mall_id")
    @classmethod
    def _mall_id(cls, v: str) -> str:
        if not MALL_ID.match(v):
            raise ValueError(
                "mall_id must be 3 to 32 lowercase letters, digits or hyphens, start with a letter "
                "and not end with a hyphen"
            )
        if v in RESERVED:
            raise ValueError(f"mall_id '{v}' is reserved")
        return v

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        v = v.upper()
        if v not in CURRENCIES:
            raise ValueError(f"currency must be one of {', '.join(sorted(CURRENCIES))}")
        return v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        if v not in available_timezones():
            raise ValueError(f"unknown time zone '{v}' (use an IANA name such as Asia/Seoul)")
        return v


class CallBucketIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capacity: int = Field(ge=1, le=1_000_000_000, description="Calls the bucket holds.", strict=True)
    drain_per_second: float = Field(ge=0.001, le=1_000_000_000, allow_inf_nan=False, strict=True,
                                    description="Calls that drain from it per second.")  # fmt: skip


class ApiLimitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    admin: CallBucketIn | None = Field(default=None, description="Each app's bucket on the Admin API.")
    shop: CallBucketIn | None = Field(
        default=None, description="Each storefront client and IP's bucket on the Shop API."
    )

    @model_validator(mode="after")
    def _something(self) -> ApiLimitsIn:
        if self.admin is None and self.shop is None:
            raise ValueError("give admin, shop or both")
        return self
