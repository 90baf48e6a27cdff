"""Turning resources into JSON: ``fields=a,b`` (only those), ``embed=x,y`` (sub-resources inline),
money as strings and times in the mall's zone, personal data masked where the request may not read it
(kernel.personal), all in one place for every router."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from fastapi import Query
from fastapi.responses import Response
from pydantic import BaseModel

from openmall.kernel import personal
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


def to_json(value: Any) -> str:
    """Compact JSON with the text as it is (UTF-8 on the wire, no \\u escapes)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class View:
    """How one request wants a resource drawn: which fields, which embeds, in which mall.

    Takes pydantic models (rendered by pydantic-core with the mall's time zone) or dicts that a
    service already rendered (JSON-ready values, in the shape of ``schema``).
    """

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
        self.include = set(chosen or plain) | set(self.embeds)
        self.context = {"timezone": mall.timezone, "currency": mall.currency}

    def _json(self, obj: Any) -> bytes:
        masked = personal.hidden(self.schema)  # personal data the request may not read (kernel.personal)
        if isinstance(obj, dict):
            chosen = {k: v for k, v in obj.items() if k in self.include}
            return to_json(personal.mask(masked, chosen) if masked else chosen).encode()
        model = obj if isinstance(obj, BaseModel) else self.schema.model_validate(obj)
        if masked:
            return to_json(personal.mask(masked, model.model_dump(mode="json", include=self.include,
                                                                  context=self.context))).encode()  # fmt: skip
        return model.__pydantic_serializer__.to_json(model, include=self.include, context=self.context)

    def one(self, key: str, obj: Any, status: int = 200) -> Response:
        return _wrapped(key, self._json(obj), status)

    def many(self, key: str, objs: Iterable[Any]) -> Response:
        return _wrapped(key, b"[" + b",".join(self._json(o) for o in objs) + b"]")


def stored_one(key: str, doc: str) -> Response:
    """``{"key": <doc>}`` from a stored JSON document (a read model), untouched."""
    return _wrapped(key, doc.encode())


def stored_many(key: str, docs: Sequence[str]) -> Response:
    return _wrapped(key, ("[" + ",".join(docs) + "]").encode())


def _wrapped(key: str, body: bytes, status: int = 200) -> Response:
    """``{"key": <body>}`` without decoding and re-encoding what pydantic-core already wrote."""
    return Response(b'{"' + key.encode() + b'":' + body + b"}", status_code=status, media_type="application/json")


def fields_leave_out_anything(spec: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document, told that ``fields=`` may leave out any field: the resources of the routes that take
    ``fields`` require none (so an answer to ``fields=product_no,name`` still fits its declared schema)."""
    schemas = spec.get("components", {}).get("schemas", {})

    def named(ref: str | None) -> dict[str, Any] | None:
        return schemas.get(ref.rsplit("/", 1)[-1]) if ref else None

    for methods in spec.get("paths", {}).values():
        for op in methods.values():
            if not any(p.get("name") == "fields" and p.get("in") == "query" for p in op.get("parameters", [])):
                continue
            for status, answer in op.get("responses", {}).items():
                body = answer.get("content", {}).get("application/json", {}).get("schema", {})
                wrapper = named(body.get("$ref")) if status.startswith("2") else None
                for prop in (wrapper or {}).get("properties", {}).values():  # {"product": {...}} / {"products": [...]}
                    resource = named(prop.get("$ref") or prop.get("items", {}).get("$ref"))
                    if resource is not None:
                        resource.pop("required", None)
    return spec
