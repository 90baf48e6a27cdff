"""CPU per Shop API read, in process: the ASGI app called directly (no sockets, no load generator), so that two
versions can be compared on a noisy machine where HTTP runs move more than the change.

    .venv/bin/python bench/asgi_reads.py [NAME] [CACHE_SECONDS] [CALLS]

Loads the demo mall (200 products) into a temporary SQLite database, then times CALLS (default 3,000) calls of
``GET /api/v2/shop/products?limit=100`` and ``GET /api/v2/shop/products/5`` through the whole middleware stack, best
of 5 rounds, in CPU time. CACHE_SECONDS (default 10) is ``OPENMALL_SHOP_CACHE_SECONDS``: 10 measures cached reads,
0 live ones (SQLite's thread included). Run it with another checkout's interpreter to compare versions.
"""

import asyncio
import gc
import os
import sys
import tempfile
import time

NAME = sys.argv[1] if len(sys.argv) > 1 else "openmall"
CALLS = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
folder = tempfile.mkdtemp()
os.environ.update({
    "OPENMALL_DATABASE_URL": f"sqlite+aiosqlite:///{folder}/bench.db", "OPENMALL_SECRET_FILE": f"{folder}/key",
    "OPENMALL_WORKER_IN_PROCESS": "off", "OPENMALL_RATE_LIMIT_BACKEND": "off",
    "OPENMALL_SHOP_CACHE_SECONDS": sys.argv[2] if len(sys.argv) > 2 else "10",
})  # fmt: skip

from openmall.app import create_app  # noqa: E402  (after the settings above)
from openmall.cli import _load_demo  # noqa: E402
from openmall.config import get_settings  # noqa: E402
from openmall.kernel.migrate import upgrade  # noqa: E402


async def call(app, path: str, query: bytes) -> int:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
             "headers": [(b"host", b"localhost"), (b"x-client-id", b"demo-storefront")],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000), "state": {}}  # fmt: skip
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"]


async def main() -> None:
    settings = get_settings()
    await _load_demo(settings, "demo", 200, show_progress=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        for name, path, query in (("list of 100", "/api/v2/shop/products", b"limit=100"),
                                  ("detail", "/api/v2/shop/products/5", b"")):  # fmt: skip
            assert await call(app, path, query) == 200
            gc.freeze()
            best = float("inf")
            for _ in range(5):
                started = time.process_time()
                for _ in range(CALLS):
                    await call(app, path, query)
                best = min(best, (time.process_time() - started) / CALLS * 1e6)
            print(f"{NAME}: {name}: {best:.1f} µs of CPU per read")


if __name__ == "__main__":
    upgrade(get_settings().database_url)  # runs its own event loop
    asyncio.run(main())
