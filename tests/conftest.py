"""Fixtures: a clean database per test (SQLite; also PostgreSQL when LABS_TEST_POSTGRES_URL is
set: every database test then runs on both), the app, HTTP clients and accounts."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import create_async_engine

from labs import migrate
from labs.models import Base
from labs.settings import Settings
from labs.testing import PASSWORD, LiveServer

# Whatever reads the global settings in a test must not write into the checkout (var/ by default).
os.environ["LABS_DATA_DIR"] = tempfile.mkdtemp(prefix="labs-tests-")

POSTGRES_URL = os.environ.get("LABS_TEST_POSTGRES_URL", "").strip()
REDIS_URL = os.environ.get("LABS_TEST_REDIS_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])

_ran_on_postgres: set[str] = set()


def pg_dsn(database: str) -> str:
    base = POSTGRES_URL.replace("postgresql+asyncpg://", "postgresql://").replace("postgres://", "postgresql://")
    return base.rsplit("/", 1)[0] + "/" + database


async def pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(pg_dsn("postgres"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


_template_ready = False
TEMPLATE_DB = f"labs_tpl_{os.getpid()}"


async def _postgres_database() -> str:
    """A fresh database cloned from a template that holds the schema (fast: no DDL per test)."""
    global _template_ready
    if not _template_ready:
        await pg_admin(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
        await pg_admin(f'CREATE DATABASE "{TEMPLATE_DB}"')
        engine = create_async_engine(pg_dsn(TEMPLATE_DB).replace("postgresql://", "postgresql+asyncpg://"))
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        await engine.dispose()
        _template_ready = True
    name = f"labs_test_{uuid.uuid4().hex[:12]}"
    await pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE_DB}"')
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database built by the real migrations; each test gets a copy of the file."""
    from labs import migrate

    path = tmp_path_factory.mktemp("template") / "labs.db"
    # In a thread: it is first asked for from inside an async fixture, and migrations run their own loop.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(migrate.upgrade, f"sqlite+aiosqlite:///{path}").result()
    return path


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        shutil.copyfile(template, tmp_path / "labs.db")
        yield f"sqlite+aiosqlite:///{tmp_path / 'labs.db'}"
        return
    _ran_on_postgres.add(request.node.nodeid)
    name = await _postgres_database()
    try:
        yield pg_dsn(name).replace("postgresql://", "postgresql+asyncpg://")
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def migrated(db_url: str) -> str:
    """The test database as the CLI expects it: the PostgreSQL one is made by create_all, so it is
    stamped with the head revision (the SQLite copy was made by the migrations themselves)."""
    if db_url.startswith("postgresql"):
        with ThreadPoolExecutor(1) as pool:  # Alembic runs a loop of its own
            pool.submit(command.stamp, migrate.config(db_url), "head").result()
    return db_url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    # No pool: the test client runs the app in its own event loop, and tests call services from theirs.
    return Settings(
        data_dir=tmp_path, database_url=db_url, channels_url="memory://", secret_key="test-secret", database_pool=False
    )


@pytest.fixture
def app(settings: Settings) -> Litestar:
    from labs.app import create_app

    return create_app(settings)


@pytest.fixture
def rt(app: Litestar) -> Any:
    return app.state.runtime


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as c:
        yield c


async def make_account(rt: Any, role: str = "facilitator", email: str | None = None) -> Any:
    from labs.services import accounts

    return await accounts.create(
        rt, email=email or f"{role}-{uuid.uuid4().hex[:6]}@example.org", password=PASSWORD, role=role
    )


async def api_token(client: AsyncTestClient[Litestar], email: str) -> dict[str, str]:
    response = await client.post("/api/v1/auth/tokens", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


async def login(client: AsyncTestClient[Litestar], email: str) -> None:
    """Log in through the real form, CSRF token included."""
    await client.get("/login")
    response = await client.post(
        "/login",
        data={"email": email, "password": PASSWORD, "_csrf_token": client.cookies.get("labs_csrf", "")},
    )
    assert response.status_code in (200, 302, 303), response.text


def csrf(client: AsyncTestClient[Litestar]) -> dict[str, str]:
    return {"x-csrftoken": client.cookies.get("labs_csrf", "")}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Browser tests last: they are the slowest, and their sync Playwright must not precede async tests.
    items.sort(key=lambda item: "/browser/" in str(item.fspath))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if POSTGRES_URL:
        passed = {r.nodeid for r in terminalreporter.stats.get("passed", [])}
        ran = len(_ran_on_postgres & passed) + len(
            {r.nodeid for r in terminalreporter.stats.get("passed", []) if "postgres" in r.keywords} - _ran_on_postgres
        )
        terminalreporter.write_line(f"PostgreSQL: {ran} tests passed against PostgreSQL ({POSTGRES_URL})")
    else:
        terminalreporter.write_line("PostgreSQL: not tested (LABS_TEST_POSTGRES_URL is unset)")


# --- a real server in a subprocess: websockets, browsers, SIGKILL ---------------------------

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A fresh SQLite database, migrated by `labs serve` itself on start."""
    server = LiveServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()
