"""Turning resources into JSON: ``fields=a,b`` (only those), ``embed=x,y`` (sub-resources inline),
money as strings and times in the mall's zone, all in one place for every router."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response
from pydantic import BaseModel, TypeAdapter

from openmall.kernel.errors import InvalidInput
from openmall.malls.service import MallInfo

FieldsQuery = Annotated[
    str | None,
    Query(description="Comma-separated field names: return only these fields.", examples=["product_no,name,price"]),
]
EmbedQuery = Annotated[
    str | None, Query(description="Comma-separated sub-resources to include inline.", examples=["variants"])
]


def parse_list(name: str, raw: str | None, allowed: Iterable[str]) -> frozenset[str]:
    if not raw:
        return frozenset()
    allowed = set(allowed)
    asked = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = sorted(asked - allowed)
    if unknown:
        raise InvalidInput(
            f"{name} has unknown name{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}",
            field=name,
            unknown=unknown,
            allowed=sorted(allowed),
        )
    return frozenset(asked)


class View:
    """How one request wants a resource drawn: which fields, which embeds, in which mall."""

    def __init__(
        self,
        schema: type[BaseModel],
        mall: MallInfo,
        fields: str | None = None,
        embed: str | None = None,
        embeddable: Sequence[str] = (),
    ):
        self.schema = schema
        self.mall = mall
        self.embeds = parse_list("embed", embed, embeddable)
        plain = [n for n in schema.model_fields if n not in embeddable]
        chosen = parse_list("fields", fields, plain)
        include = set(chosen or plain) | set(self.embeds)
        self.include = include
        self.context = {"timezone": mall.timezone, "currency": mall.currency}

    def _models(self, objs: Iterable[Any]) -> list[BaseModel]:
        return [o if isinstance(o, BaseModel) else self.schema.model_validate(o) for o in objs]

    def one(self, key: str, obj: Any) -> Response:
        (model,) = self._models([obj])
        body = model.__pydantic_serializer__.to_json(model, include=self.include, context=self.context)
        return _wrapped(key, body)

    def many(self, key: str, objs: Iterable[Any]) -> Response:
        body = _list_adapter(self.schema).dump_json(
            self._models(objs), include={"__all__": self.include}, context=self.context
        )
        return _wrapped(key, body)


def _wrapped(key: str, body: bytes) -> Response:
    """``{"key": <body>}`` without decoding and re-encoding what pydantic-core already wrote."""
    return Response(b'{"' + key.encode() + b'":' + body + b"}", media_type="application/json")


@lru_cache(maxsize=64)
def _list_adapter(schema: type[BaseModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[schema])  # type: ignore[valid-type]
