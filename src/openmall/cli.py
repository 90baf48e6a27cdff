"""The ``openmall`` command: serve, migrate, demo-data, mall."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from openmall.config import Settings, get_settings
from openmall.kernel.db import create_engine, session_factory, session_scope
from openmall.kernel.errors import ApiError
from openmall.kernel.migrate import upgrade

app = typer.Typer(
    help="openmall: a self-hostable commerce platform with an Open API.", no_args_is_help=True, add_completion=False
)
mall_app = typer.Typer(help="Create and list malls.", no_args_is_help=True)
app.add_typer(mall_app, name="mall")
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
def migrate(revision: Annotated[str, typer.Option(help="Target revision.")] = "head") -> None:
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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes (use PostgreSQL for more than one).")] = 1,
    demo: Annotated[bool, typer.Option(help="Load the demo mall when the database has no mall.")] = True,
) -> None:
    """Migrate the database, load the demo mall on first run, and serve the API."""
    import uvicorn

    settings = get_settings()
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
  Demo mall       '{settings.default_mall}' with 60 clothing products; operator accounts arrive with OAuth
""")
    uvicorn.run(
        "openmall.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=True,
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
