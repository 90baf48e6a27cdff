"""What no input may carry, checked where strings enter the server.

* One rule for text shown to people (names, query text): no control characters (C0, DEL, C1) and no
  bidirectional controls (U+202A–U+202E, U+2066–U+2069), which reorder what is displayed around them.
  :func:`control_character` is that rule; ``kernel.schemas.NameText`` and ``kernel.params.parse_text`` use it.
* :class:`InputGuard`, an ASGI middleware, refuses a NUL character anywhere a string enters (path, query, a JSON
  or form body) with a 422 before any route runs: PostgreSQL cannot store NUL in text, so without this guard every
  endpoint would have to know it. It also answers an over-long URL with a 414 and a body over 1 MiB with a 413,
  in the error format (it reads bodies whole, so it bounds them).

On the normal path the guard costs a substring test of the path and query and, for a request with a body, one
of the body; the work of naming the field happens only once something was found.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from fastapi.routing import iter_route_contexts
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openmall.kernel.errors import error_body, shadowed_paths

# Cc is U+0000–U+001F and U+007F–U+009F; the bidi embeddings, overrides and isolates come after
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

MAX_URL_BYTES = 8192  # path + query, as sent; a longer URL is a 414 (the CLI's uvicorn accepts longer ones)
MAX_BODY_BYTES = 1 << 20  # a request body over 1 MiB is a 413: the guard reads bodies whole, so it bounds them

_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")  # the escape itself, not an escaped backslash before "u0000"


def control_character(text: str) -> tuple[int, str] | None:
    """The position and code point (``U+0085``) of the first control or bidi character in ``text``, or None."""
    found = _CONTROL.search(text)
    return None if found is None else (found.start(), f"U+{ord(found.group()):04X}")


def control_problem(text: str) -> str | None:
    """Why ``text`` is refused, for a message that starts with the field's name; None when it is fine."""
    found = control_character(text)
    if found is None:
        return None
    position, char = found
    return f"must not contain control or bidirectional-override characters ({char} at position {position})"


class InputGuard:
    """Pure ASGI middleware: NUL in the path, the query or a body is a 422; a URL over ``max_url`` bytes a 414; a
    body over ``MAX_BODY_BYTES`` a 413 (by its Content-Length, or once that much has arrived); a
    method a literal path lacks is a 405 though a parameter route would take the path (``errors.shadowed_paths``)."""

    def __init__(self, app: ASGIApp, max_url: int = MAX_URL_BYTES):
        self.app = app
        self.max_url = max_url
        self._shadow: tuple[Any, dict[str, list[str]]] | None = None

    def _shadowed(self, scope: Scope) -> dict[str, list[str]]:
        app = scope.get("app")
        if self._shadow is None or self._shadow[0] is not app:
            self._shadow = (app, shadowed_paths(app) if app is not None else {})
        return self._shadow[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, query = scope["path"], scope["query_string"]
        url_bytes = len(scope.get("raw_path") or path) + len(query)
        if url_bytes > self.max_url:
            message = f"The URL is {url_bytes} bytes long; at most {self.max_url} bytes are accepted (path and query)"
            await _answer(send, 414, message, {"length": url_bytes, "maximum": self.max_url})
            return
        if "\x00" in path:
            await _refuse(send, *_in_path(scope, path))
            return
        if b"%00" in query or b"\x00" in query:
            found = _in_pairs(query)
            if found:
                await _refuse(send, "query", *found)
                return
        shadowed = self._shadowed(scope).get(path)
        if shadowed is not None and scope["method"] not in shadowed:
            allowed = ", ".join(shadowed)
            message = f"Method {scope['method']} is not allowed on {path}; allowed: {allowed}"
            await _answer(send, 405, message, {"allowed": shadowed}, [(b"allow", allowed.encode())])
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > MAX_BODY_BYTES:
            await _too_large(send, declared)
            return
        body, more = await _read_body(receive)
        if body is None:
            await _too_large(send, None)
            return
        form = _content_type(scope).startswith(b"application/x-www-form-urlencoded")
        found = None
        if form and (b"%00" in body or b"\x00" in body):
            found = _in_pairs(body)
            where = "form"
        elif not form and (b"\x00" in body or (b"u0000" in body and _JSON_NUL.search(body))):
            found = _in_json(body)
            where = "body"
        if found:
            await _refuse(send, where, *found)
            return
        await self.app(scope, _replay(body, more, receive), send)


def _content_type(scope: Scope) -> bytes:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return value.lower()
    return b""


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _too_large(send: Send, length: int | None) -> None:
    said = f"is {length} bytes" if length is not None else "goes on"
    await _answer(send, 413, f"The request body {said}; at most {MAX_BODY_BYTES} bytes are accepted; nothing was done",
                  {"maximum": MAX_BODY_BYTES, **({"length": length} if length is not None else {})})  # fmt: skip


async def _read_body(receive: Receive) -> tuple[bytes | None, Message | None]:
    """The whole body (None past ``MAX_BODY_BYTES``, however it was sent), and the message that ended the
    reading when it was not a body part (a disconnect)."""
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts), message
        part = message.get("body", b"")
        size += len(part)
        if size > MAX_BODY_BYTES:
            return None, None
        parts.append(part)
        if not message.get("more_body", False):
            return b"".join(parts), None


def _replay(body: bytes, ended: Message | None, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return ended if ended is not None else {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _nul_at(text: str) -> int | None:
    position = text.find("\x00")
    return None if position < 0 else position


def _in_pairs(raw: bytes) -> tuple[str, int] | None:
    """The field (a name, or the value of one) of a query or form that holds a NUL, and its position."""
    text = raw.decode("utf-8", "replace")
    for name, value in parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace"):
        for part in (name, value):
            position = _nul_at(part)
            if position is not None:
                return _printable(name), position
    return None


def _in_json(body: bytes) -> tuple[str, int]:
    try:
        document = json.loads(body)
    except ValueError:  # NUL raw in the bytes, or the body is no JSON at all: the body is the field
        escaped = _JSON_NUL.search(body)
        return "body", body.find(b"\x00") if escaped is None else escaped.start()
    found = _walk(document, ())
    return found if found is not None else ("body", 0)


def _walk(value: Any, where: tuple[str, ...]) -> tuple[str, int] | None:
    if isinstance(value, str):
        position = _nul_at(value)
        return None if position is None else (".".join(where) or "body", position)
    if isinstance(value, dict):
        for key, item in value.items():
            position = _nul_at(key)
            if position is not None:
                return ".".join((*where, _printable(key))), position
            found = _walk(item, (*where, key))
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _walk(item, (*where, str(index)))
            if found:
                return found
    return None


def _in_path(scope: Scope, path: str) -> tuple[str, str, int]:
    """Name the path parameter that holds the NUL, from the routes of the app (only on this error path)."""
    position = path.index("\x00")
    for route in iter_route_contexts(getattr(scope.get("app"), "routes", [])):
        regex = getattr(route, "path_regex", None)
        match = regex.match(path) if regex is not None else None
        if match is None:
            continue
        for name in match.groupdict():
            start, end = match.span(name)
            if start <= position < end:
                return "path", name, position - start
    return "path", "path", position


def _printable(text: str) -> str:
    return text.replace("\x00", "\\u0000")


async def _refuse(send: Send, where: str, field: str, position: int) -> None:
    message = f"{field} must not contain control characters (U+0000 at position {position})"
    info = {"field": field, "in": where, "character": "U+0000", "position": position}
    await _answer(send, 422, message, info)


async def _answer(
    send: Send, status: int, message: str, info: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(error_body(status, message, info)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
