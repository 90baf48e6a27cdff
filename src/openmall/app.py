"""create_app(): the ASGI application with its routers, middleware and lifespan."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from openmall import __version__
from openmall.catalog import admin_api as catalog_admin
from openmall.catalog import shop_api as catalog_shop
from openmall.config import Settings, get_settings
from openmall.customers import admin_api as customers_admin
from openmall.customers import shop_api as customers_shop
from openmall.housekeeping import CHORES
from openmall.kernel import health
from openmall.kernel.cache import ResponseCache, SharedCacheMiddleware
from openmall.kernel.db import create_engine, read_session_factory, session_factory
from openmall.kernel.documents import DirectReads
from openmall.kernel.errors import ApiError, install_error_handlers
from openmall.kernel.inputs import InputGuard
from openmall.kernel.metrics import LIMITER_FAILURES, MetricsMiddleware, metrics_response
from openmall.kernel.ratelimit import CallLimitHeaders, make_buckets
from openmall.kernel.representation import fields_leave_out_anything
from openmall.kernel.secrets import server_key
from openmall.kernel.versioning import LATEST, ApiVersionMiddleware
from openmall.malls.service import MallCache
from openmall.oauth import admin_api as oauth_admin
from openmall.oauth import developer_pages, endpoints, operator_pages
from openmall.oauth.storefront import ClientIdGate
from openmall.orders import admin_api as orders_admin
from openmall.orders import cart_api as orders_cart
from openmall.orders import shop_api as orders_shop
from openmall.orders.attempts import AttemptLog
from openmall.orders.numbers import OrderNumbers
from openmall.promotions import admin_api as promotions_admin
from openmall.promotions import shop_api as promotions_shop
from openmall.web.pages import ConsoleSessions, page_errors
from openmall.webhooks import admin_api as webhooks_admin
from openmall.webhooks.worker import Worker

DESCRIPTION = f"""
openmall's Open API. Every call names its mall by host (`{{mall_id}}.{{base_domain}}`; the bare host serves
the default mall) and may pin a dated version with `X-Api-Version` (latest: `{LATEST}`).
Money is a decimal string, times are ISO 8601 in the mall's time zone, lists take `limit` (≤ 500) and
`offset` (≤ 10,000), and every error is `{{"error": {{"code", "message", "more_info"}}}}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size, echo=settings.debug_sql)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = task = None
        in_process = settings.worker_in_process
        if in_process == "on" or (in_process == "auto" and engine.dialect.name == "sqlite"):
            # embedded mode: one in-process worker, with the periodic chores
            worker = Worker(engine, settings, app.state.key, concurrency=20, chores=CHORES)
            task = asyncio.create_task(worker.run())
        # what is loaded by now (modules, routes, schemas, SQLAlchemy's mappers) lives as long as the process: out
        # of the collector's sight, a full collection no longer walks it (bench/orders.py saw 50-60 ms pauses)
        gc.collect()
        gc.freeze()
        yield
        if worker is not None and task is not None:
            worker.stop()
            await task
            await worker.close()
        await app.state.direct_reads.close()
        await app.state.order_numbers.close()
        await app.state.payment_attempts.close()
        if app.state.buckets is not None:
            await app.state.buckets.close()
        await engine.dispose()

    app = FastAPI(
        title="openmall",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,  # served below from the swagger-ui-bundle package: no CDN, works offline
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.read_sessions = read_session_factory(engine)
    app.state.direct_reads = DirectReads(engine, settings.db_pool_size)
    app.state.order_numbers = OrderNumbers(settings.database_url)  # order ids off the orders' transactions
    app.state.payment_attempts = AttemptLog(settings.database_url,  # card charges recorded before they are made
                                            synchronous=settings.payment_attempts_synchronous_commit)
    app.state.response_cache = ResponseCache(settings.shop_cache_seconds)
    app.state.mall_cache = MallCache(settings.mall_cache_seconds)
    app.state.key = server_key(settings.secret_key, settings.secret_file)
    app.state.buckets = make_buckets(
        settings.rate_limit_backend, settings.redis_url, settings.rate_limit_fail_closed, LIMITER_FAILURES
    )

    install_error_handlers(app)
    app.add_exception_handler(ApiError, page_errors)  # the console's pages answer errors as pages
    # added last = outermost: versions are checked before the cache, so an unknown version is never served
    app.add_middleware(InputGuard)  # innermost: NUL a 422, a long URL a 414, a huge body a 413 (cached pages skip it)
    app.add_middleware(SharedCacheMiddleware, cache=app.state.response_cache, prefix="/api/v2/shop/")
    app.add_middleware(ClientIdGate, prefix="/api/v2/shop/")  # outside the cache: no id, no cached page
    app.add_middleware(CallLimitHeaders)  # the call bucket's headers, on answers from the cache too
    app.add_middleware(ApiVersionMiddleware)
    app.add_middleware(
        ConsoleSessions, key=app.state.key, max_age=settings.session_seconds, https_only=settings.secure_cookies
    )
    app.add_middleware(MetricsMiddleware)
    app.include_router(catalog_shop.router)
    app.include_router(catalog_admin.router)
    app.include_router(oauth_admin.router)
    app.include_router(webhooks_admin.router)
    app.include_router(orders_shop.router)
    app.include_router(orders_admin.router)
    app.include_router(orders_cart.router)
    app.include_router(orders_cart.admin_router)
    app.include_router(promotions_shop.router)
    app.include_router(promotions_admin.router)
    app.include_router(customers_shop.router)
    app.include_router(customers_admin.router)
    app.include_router(endpoints.router)
    app.include_router(operator_pages.router)
    app.include_router(developer_pages.router)
    app.include_router(health.router)
    app.add_route("/metrics", metrics_response, include_in_schema=False)

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_path), name="swagger")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="openmall API reference",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(
            "<!doctype html><title>openmall</title><h1>openmall</h1>"
            "<ul><li><a href='/docs'>API reference (OpenAPI)</a></li>"
            "<li><a href='/developers'>Developer console</a>: register apps</li>"
            "<li><a href='/admin/apps'>Back office</a>: a mall's installed apps</li></ul>"
            "<p>The Shop API answers storefronts that name an installed app: "
            "<code>curl -H 'X-Client-Id: demo-storefront' localhost:8000/api/v2/shop/products</code></p>"
        )

    openapi = app.openapi
    app.openapi = lambda: fields_leave_out_anything(openapi())  # type: ignore[method-assign]
    return app
