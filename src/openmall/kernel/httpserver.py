"""The HTTP protocol ``openmall serve`` runs: uvicorn's httptools protocol, whose own refusals keep the error format.

uvicorn answers a request its parser cannot read with a plain-text ``400 Invalid HTTP request received.``, before
the app sees anything; the app's own guard (``kernel.inputs``) never runs. Here the parser's refusals answer
``{"error": {"code", "message", "more_info"}}`` as every other error does, and a URL longer than
``kernel.inputs.MAX_URL_BYTES`` is stopped while it is still arriving (the parser would refuse it past 64 KB
anyway) with a 414 that says the limit.
"""

from __future__ import annotations

import json
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from openmall.kernel.errors import error_body
from openmall.kernel.inputs import MAX_URL_BYTES

log = logging.getLogger("openmall.http")

_REASONS = {400: b"Bad Request", 414: b"URI Too Long"}


class _UrlTooLong(Exception):
    """Raised from the parser's URL callback; the parser turns it into its own error, which we answer."""


class ErrorFormatHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; what its parser refuses is answered in the error format."""

    max_url = MAX_URL_BYTES

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._url_too_long = False

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.max_url:
            self._url_too_long = True
            raise _UrlTooLong

    def send_400_response(self, msg: str) -> None:
        if getattr(self, "_url_too_long", False):
            status, message = 414, (f"The URL is longer than {self.max_url} bytes; at most {self.max_url} bytes "
                                    "are accepted (path and query)")  # fmt: skip
            info = {"maximum": self.max_url}
        else:
            status, message = 400, ("The request is not valid HTTP/1.1 (its request line or headers could not be "
                                    "read); nothing was done")  # fmt: skip
            info = {}
        body = json.dumps(error_body(status, message, info)).encode()
        head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
        for name, value in self.server_state.default_headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self.transport.close()
