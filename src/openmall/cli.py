"""The ``openmall`` command: serve, migrate, demo-data, mall."""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import tempfile
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from openmall.config import Settings, get_settings
from openmall.demo_data import DEMO_DEVELOPER, DEMO_OPERATOR, DEMO_STOREFRONT
from openmall.kernel.db import create_engine, session_factory, session_scope
from openmall.kernel.errors import ApiError
from openmall.kernel.httpserver import ErrorFormatHttpToolsProtocol
from openmall.kernel.migrate import upgrade
from openmall.kernel.secrets import server_key

app = typer.Typer(
    help="openmall: a self-hostable commerce platform with an Open API.", no_args_is_help=True, add_completion=False
)
mall_app = typer.Typer(help="Create and list malls.", no_args_is_help=True)
app.add_typer(mall_app, name="mall")
operator_app = typer.Typer(help="Mall operators (people who run a mall and consent to apps).", no_args_is_help=True)
app.add_typer(operator_app, name="operator")
developer_app = typer.Typer(help="Developer accounts (people who build apps).", no_args_is_help=True)
app.add_typer(developer_app, name="developer")
apps_app = typer.Typer(help="Apps: create one for a developer, publish one after review.", no_args_is_help=True)
app.add_typer(apps_app, name="app")
orders_app = typer.Typer(help="Orders' periodic work, on demand.", no_args_is_help=True)
app.add_typer(orders_app, name="orders")
payments_app = typer.Typer(help="Card payments' periodic work, on demand.", no_args_is_help=True)
app.add_typer(payments_app, name="payments")
console = Console(soft_wrap=True)


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


async def _count_malls(settings: Settings) -> int:
    from openmall.malls import service as malls

    engine = create_engine(settings.database_url)
    try:
        async with session_scope(session_factory(engine), "*") as session:
            return await malls.count_malls(session)
    finally:
        await engine.dispose()


async def _load_demo(settings: Settings, mall_id: str, products: int, show_progress: bool) -> int:
    from openmall import demo_data
    from openmall.malls import service as malls

    engine = create_engine(settings.database_url)
    factory = session_factory(engine)
    try:
        async with session_scope(factory, "*") as session:
            if await malls.find_mall(session, mall_id) is None:
                name = demo_data.DEMO_MALL_NAME if mall_id == demo_data.DEMO_MALL else mall_id
                await malls.create_mall(session, mall_id, name)
        async with session_scope(factory, mall_id) as session:
            await demo_data.load_operator(session)
            await demo_data.load_storefront(session, server_key(settings.secret_key, settings.secret_file))
        async with session_scope(factory, mall_id) as session:
            await demo_data.load_shopping(session)
        async with session_scope(factory, mall_id) as session:
            if not show_progress:
                return await demo_data.load_catalog(session, products, commit_chunks=True)
            with Progress(
                TextColumn("[bold]products"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
            ) as bar:
                task = bar.add_task("products", total=products)
                return await demo_data.load_catalog(
                    session, products, progress=lambda n: bar.advance(task, n), commit_chunks=True
                )
    finally:
        await engine.dispose()


@app.command()
def migrate(revision: Annotated[str, typer.Option(help="Target revision.")] = "heads") -> None:
    """Bring the database schema up to date."""
    settings = get_settings()
    upgrade(settings.database_url, revision)
    console.print(f"database at [bold]{revision}[/bold]: {settings.database_url}")


@app.command("demo-data")
def demo_data_cmd(
    products: Annotated[int, typer.Option(min=0, max=1_000_000, help="How many products to add.")] = 60,
    mall: Annotated[str, typer.Option(help="The mall to fill (created if missing).")] = "demo",
) -> None:
    """Fill a mall with a believable clothing catalog (bulk inserts; 100,000 products in seconds)."""
    settings = get_settings()
    upgrade(settings.database_url)
    started = time.perf_counter()
    gc.disable()  # a million short-lived rows: the cyclic collector would rescan them over and over
    try:
        made = asyncio.run(_load_demo(settings, mall, products, show_progress=True))
    except ApiError as exc:
        _fail(exc.message)
    finally:
        gc.enable()
    console.print(f"added {made} products to mall [bold]{mall}[/bold] in {time.perf_counter() - started:.1f} s")


@mall_app.command("create")
def mall_create(
    mall_id: Annotated[str, typer.Argument(help="Lowercase letters, digits, hyphens; the sub-domain.")],
    name: Annotated[str, typer.Option(help="The shop's name.")],
    currency: Annotated[str, typer.Option(help="ISO 4217 code.")] = "KRW",
    timezone: Annotated[str, typer.Option(help="IANA time zone.")] = "Asia/Seoul",
) -> None:
    """Create a mall, served at {mall_id}.{base_domain}."""
    from openmall.malls import service as malls

    settings = get_settings()
    upgrade(settings.database_url)

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            async with session_scope(session_factory(engine), "*") as session:
                await malls.create_mall(session, mall_id, name, currency=currency, timezone=timezone)
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except ApiError as exc:
        _fail(exc.message)
    port = ":8000" if settings.base_domain == "localhost" else ""
    console.print(f"created mall [bold]{mall_id}[/bold]: http://{mall_id}.{settings.base_domain}{port}/")


@mall_app.command("list")
def mall_list() -> None:
    """List the malls on this server."""
    from openmall.malls import service as malls

    settings = get_settings()

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            async with session_scope(session_factory(engine), "*") as session:
                for m in await malls.list_malls(session):
                    typer.echo(f"{m.mall_id}\t{m.name}\t{m.currency}\t{m.timezone}")
        finally:
            await engine.dispose()

    asyncio.run(run())


@mall_app.command("limits")
def mall_limits(
    mall_id: Annotated[str, typer.Argument()],
    admin_capacity: Annotated[int | None, typer.Option(help="Calls each app's Admin API bucket holds.")] = None,
    admin_drain: Annotated[float | None, typer.Option(help="Admin API calls drained per second.")] = None,
    shop_capacity: Annotated[int | None, typer.Option(help="Calls each storefront client+IP bucket holds.")] = None,
    shop_drain: Annotated[float | None, typer.Option(help="Shop API calls drained per second.")] = None,
) -> None:
    """Show or change a mall's call buckets (rate limits); unchanged values keep their setting."""
    from openmall.malls import service as malls

    async def work(session: Any) -> Any:
        info = await malls.get_mall(session, mall_id)
        changes: dict[str, dict[str, float]] = {}
        for surface, capacity, drain, now in (("admin", admin_capacity, admin_drain, info.admin_limit),
                                              ("shop", shop_capacity, shop_drain, info.shop_limit)):  # fmt: skip
            if capacity is not None or drain is not None:
                changes[surface] = {"capacity": capacity if capacity is not None else now.capacity,
                                    "drain_per_second": drain if drain is not None else now.drain}  # fmt: skip
        return await malls.set_api_limits(session, mall_id, changes) if changes else info

    info = _run("*", work)
    for surface, policy in (("admin", info.admin_limit), ("shop", info.shop_limit)):
        typer.echo(f"{surface}	capacity {policy.capacity}	drain {policy.drain:g}/s")


def _run(mall_id: str, work: Any) -> Any:
    """Run ``work(session)`` in one unit of work (bound to ``mall_id``, or '*' for platform rows)."""
    settings = get_settings()
    upgrade(settings.database_url)

    async def run() -> Any:
        engine = create_engine(settings.database_url)
        try:
            async with session_scope(session_factory(engine), mall_id) as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except ApiError as exc:
        _fail(exc.message)


def _key() -> bytes:
    settings = get_settings()
    return server_key(settings.secret_key, settings.secret_file)


@operator_app.command("create")
def operator_create(
    login_id: Annotated[str, typer.Argument(help="The login, 3 to 64 lowercase letters, digits, '_.-'.")],
    mall: Annotated[str, typer.Option(help="The operator's mall.")],
    name: Annotated[str, typer.Option(help="The operator's name.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create an operator of a mall."""
    from openmall.oauth import service as oauth

    _run(mall, lambda s: oauth.create_operator(s, login_id, name, password))
    console.print(f"operator [bold]{login_id}[/bold] can now log in to mall {mall}")


@developer_app.command("create")
def developer_create(
    email: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create a developer account."""
    from openmall.oauth import service as oauth

    _run("*", lambda s: oauth.create_developer(s, email, name, password))
    console.print(f"developer [bold]{email}[/bold] created")


@apps_app.command("create")
def app_create(
    developer: Annotated[str, typer.Option(help="The developer's email.")],
    name: Annotated[str, typer.Option()],
    app_url: Annotated[str, typer.Option(help="Opened when an operator launches the app.")],
    redirect_uri: Annotated[list[str], typer.Option(help="Exact redirect URI; repeat for more.")],
    scope: Annotated[list[str], typer.Option(help="A scope such as mall.read_product; repeat for more.")],
    test_mall: Annotated[list[str] | None, typer.Option(help="A mall that may install it in development.")] = None,
) -> None:
    """Register an app for a developer; prints its client_id and, this once, its client_secret."""
    from openmall.oauth import service as oauth

    async def work(session: Any) -> Any:
        dev = await oauth.find_developer(session, developer)
        return await oauth.create_app(session, _key(), dev, name=name, app_url=app_url, redirect_uris=redirect_uri,
                                      scopes=scope, test_malls=test_mall or [])  # fmt: skip

    made = _run("*", work)
    typer.echo(f"client_id\t{made.app.client_id}")
    typer.echo(f"client_secret\t{made.client_secret}")
    console.print("[yellow]the client_secret is shown only now; store it in your app's secrets[/yellow]")


@apps_app.command("approve")
def app_approve(client_id: Annotated[str, typer.Argument()]) -> None:
    """Publish an app after review: every mall may install it."""
    from openmall.oauth import service as oauth

    made = _run("*", lambda s: oauth.approve_app(s, client_id))
    console.print(f"app [bold]{made.name}[/bold] is published")


@apps_app.command("install")
def app_install(
    client_id: Annotated[str, typer.Argument()],
    mall: Annotated[str, typer.Option(help="The mall to install it on.")],
    scope: Annotated[
        list[str] | None, typer.Option(help="Scopes to grant (default: none, as for a storefront).")
    ] = None,
) -> None:
    """Install an app on a mall without the consent page (an administrator's act, e.g. for a storefront)."""
    from openmall.oauth import scopes as scope_registry
    from openmall.oauth import service as oauth

    async def work(session: Any) -> Any:
        try:
            granted = scope_registry.parse(scope or [])
        except ValueError as exc:
            raise ApiError(str(exc)) from None
        found = await oauth.get_app(session, client_id)
        return await oauth.install_app(session, found, mall, None, granted)

    _run(mall, work)
    console.print(f"app [bold]{client_id}[/bold] is installed on mall {mall}")


@apps_app.command("token")
def app_token(
    client_id: Annotated[str, typer.Argument()],
    mall: Annotated[str, typer.Option(help="The mall the app is installed on.")],
    operator: Annotated[str, typer.Option(help="The operator the token acts for.")] = "admin",
) -> None:
    """Print an Admin API access token of an installed app (its granted scopes), without the browser."""
    from openmall.oauth import service as oauth

    settings = get_settings()
    key = server_key(settings.secret_key, settings.secret_file)

    async def work(session: Any) -> Any:
        return await oauth.issue_operator_token(session, key, client_id, operator, settings.access_token_seconds,
                                                settings.refresh_token_seconds)  # fmt: skip

    token, scopes = _run(mall, work)
    console.print(token, highlight=False, soft_wrap=True)
    console.print(f"[dim]scopes: {' '.join(scopes) or '(none)'}; expires in {settings.access_token_seconds} s[/dim]",
                  highlight=False)  # fmt: skip


def _fast_loop() -> Any:
    """uvloop's event loop where it is installed (it comes with uvicorn[standard]): about a fifth more
    deliveries per second than asyncio's own loop; None (asyncio's) otherwise."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _run_chore(chore: Any) -> Any:
    """A worker's chore, now: on the configured database (migrated first), with sessions of its own."""
    settings = get_settings()
    upgrade(settings.database_url)

    async def run() -> Any:
        engine = create_engine(settings.database_url)
        try:
            return await chore(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(run())


@orders_app.command("expire-deposits")
def orders_expire_deposits() -> None:
    """Cancel the bank-transfer orders whose deposit is past its due date (every worker does it every 10 min)."""
    from openmall.orders import deposits

    expired = _run_chore(deposits.expire)
    for e in expired:
        typer.echo(f"{e.mall_id}\t{e.order_id}\tcancelled: the deposit did not arrive in time")
    typer.echo(f"{len(expired)} overdue bank-transfer order(s) cancelled")


@payments_app.command("reconcile")
def payments_reconcile(
    lease_seconds: Annotated[
        int, typer.Option(min=0, help="Leave alone attempts younger than this (a confirmation may be under way).")
    ] = 120,
) -> None:
    """Settle card payment attempts a crash left without an outcome: a charge no order kept is cancelled at the
    gateway (every worker does it every 10 min)."""
    from datetime import timedelta

    from openmall.orders import attempts

    settled = _run_chore(lambda sessions: attempts.reconcile(sessions, lease=timedelta(seconds=lease_seconds)))
    for s in settled:
        typer.echo(f"{s.mall_id}\t{s.payment_key}\t{s.status}\t{s.gateway_tx_id or '-'}\t{s.note}")
    typer.echo(f"{len(settled)} payment attempt(s) settled")


@app.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Deliveries in flight at once.")] = 200,
) -> None:
    """Deliver webhooks: fan out new events, claim due deliveries, send them signed (run several)."""
    import signal

    from openmall.housekeeping import CHORES
    from openmall.webhooks.worker import Worker

    settings = get_settings()
    upgrade(settings.database_url)

    async def run() -> None:
        engine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
        work = Worker(engine, settings, server_key(settings.secret_key, settings.secret_file), concurrency=concurrency,
                      chores=CHORES)  # fmt: skip
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, work.stop)
        console.print(f"webhook worker on {settings.database_url}: {concurrency} deliveries in flight at most")
        try:
            await work.run()
        finally:
            await work.close()
            await engine.dispose()

    with asyncio.Runner(loop_factory=_fast_loop()) as runner:
        runner.run(run())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes (use PostgreSQL for more than one).")] = 1,
    demo: Annotated[bool, typer.Option(help="Load the demo mall when the database has no mall.")] = True,
    forwarded_allow_ips: Annotated[
        str, typer.Option(help="Proxies whose X-Forwarded-For/-Proto are trusted (comma list, or '*').")
    ] = "127.0.0.1",
) -> None:
    """Migrate the database, load the demo mall on first run, and serve the API."""
    import uvicorn

    settings = get_settings()
    if workers > 1 and settings.rate_limit_backend in ("auto", "memory") and not settings.redis_url:
        console.print(f"[yellow]warning:[/yellow] {workers} workers without OPENMALL_REDIS_URL: each process keeps "
                      f"its own call buckets, so a caller gets up to {workers}× the limit")  # fmt: skip
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # every worker writes its metrics here and /metrics adds them up, whichever worker answers
        metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="openmall-metrics-")
    upgrade(settings.database_url)
    if demo and asyncio.run(_count_malls(settings)) == 0:
        console.print("first run: loading the demo mall …")
        asyncio.run(_load_demo(settings, settings.default_mall, 60, show_progress=False))
    base = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
    console.print(f"""
[bold]openmall[/bold] on {settings.database_url}
  Home            {base}/
  API reference   {base}/docs
  Shop API        {base}/api/v2/shop/products   (default mall: {settings.default_mall})
  Another mall    http://{{mall_id}}.{settings.base_domain}:{port}/ (curl -H 'Host: {{mall_id}}.{settings.base_domain}')
  Demo mall       '{settings.default_mall}' with 60 clothing products
  Storefront id   X-Client-Id: {DEMO_STOREFRONT}   (the Shop API wants an installed app's client id)
  Back office     {base}/admin/apps   operator '{DEMO_OPERATOR[0]}', password '{DEMO_OPERATOR[1]}'
  Developers      {base}/developers   '{DEMO_DEVELOPER[0]}', password '{DEMO_DEVELOPER[1]}'
""")
    try:
        uvicorn.run(
            "openmall.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
            http=ErrorFormatHttpToolsProtocol,  # what the parser refuses (a 100 KB URL) keeps the error format
            proxy_headers=True,
            forwarded_allow_ips=forwarded_allow_ips,  # the Shop API's per-IP buckets see the shopper's address
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
