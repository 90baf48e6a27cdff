"""The two request-body bases every domain uses: ``Strict`` (unknown fields refused, strings trimmed) and
``Partial`` (an update: omitted fields stay as they are; ``null`` only where a field may be emptied), and
``NoControls``, the mark of every name people read."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, GetJsonSchemaHandler, ValidationInfo, field_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from openmall.kernel.inputs import control_problem


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


class _NoControls:
    """Refuses control and bidi characters (``kernel.inputs.control_character``) and documents it as a pattern."""

    PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u202a-\\u202e\\u2066-\\u2069]*$"

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(_no_controls, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        out = handler(schema)
        out.setdefault("pattern", self.PATTERN)
        return out


def _no_controls(value: str) -> str:
    problem = control_problem(value)
    if problem is not None:
        raise PydanticCustomError("control_characters", problem)
    return value


# the mark of a name people read (product, category, brand, option, member, group, coupon, app, mall names), after
# its bounds so that those keep their own messages: ``Annotated[str, Field(min_length=1, max_length=100), NoControls]``
NoControls = _NoControls()
