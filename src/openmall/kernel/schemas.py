"""The two request-body bases every domain uses: ``Strict`` (unknown fields refused, strings trimmed) and
``Partial`` (an update: omitted fields stay as they are; ``null`` only where a field may be emptied)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Partial(Strict):
    """A partial update: omitted fields stay as they are; ``null`` only where a field may be empty."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.NULLABLE:
            raise ValueError(f"{info.field_name} may be left out, but not set to null")
        return value
