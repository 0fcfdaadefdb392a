"""Settings from LABS_* environment variables, with defaults that run on a laptop."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(__file__).resolve().parent
TEMPLATES_DIR = ROOT / "templates"


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _positive(name: str, default: int) -> int:
    """A whole number above zero from the environment, or a clear error at start-up."""
    raw = _env(name, str(default))
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number above 0, not {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(_env("LABS_DATA_DIR", str(ROOT / "var"))))
    database_url: str = ""
    # Off behind PgBouncer (it pools already) and in tests that share the app across event loops.
    database_pool: bool = field(default_factory=lambda: _env("LABS_DATABASE_POOL", "1") != "0")
    channels_url: str = field(default_factory=lambda: _env("LABS_CHANNELS_URL", "memory://"))
    # Names this deployment's channels and keys in a Redis that other deployments share too.
    channels_prefix: str = field(default_factory=lambda: _env("LABS_CHANNELS_PREFIX", "labs"))
    host: str = field(default_factory=lambda: _env("LABS_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("LABS_PORT", "8000")))
    # Base URL people reach the app at (join links and QR codes); defaults to the request's own.
    public_url: str = field(default_factory=lambda: _env("LABS_PUBLIC_URL", ""))
    # Addresses of the reverse proxies in front of the app, whose X-Forwarded-For is believed.
    trusted_proxies: frozenset[str] = field(
        default_factory=lambda: frozenset(a.strip() for a in _env("LABS_TRUSTED_PROXIES", "").split(",") if a.strip())
    )
    # Origins (space-separated) that may show the projector in a frame, e.g. a city dashboard.
    frame_ancestors: str = field(default_factory=lambda: _env("LABS_FRAME_ANCESTORS", ""))
    # Login sessions end after this many hours without a request, and this many days after login.
    login_idle_hours: int = field(default_factory=lambda: _positive("LABS_LOGIN_IDLE_HOURS", 12))
    login_max_days: int = field(default_factory=lambda: _positive("LABS_LOGIN_MAX_DAYS", 14))
    # API tokens last this many days unless their owner asks for fewer; never more than the maximum.
    token_days: int = field(default_factory=lambda: _positive("LABS_TOKEN_DAYS", 90))
    token_max_days: int = field(default_factory=lambda: _positive("LABS_TOKEN_MAX_DAYS", 365))
    secret_key: str = ""
    # Keys the HMAC behind research pseudonyms. Kept apart from the data (never in the database, so
    # never in its backups): whoever holds a copy of the database cannot link pseudonyms to people.
    pseudonym_key: str = ""
    # Outgoing mail for follow-up check-ins (`labs followups send`); see labs.mail.
    smtp_url: str = field(default_factory=lambda: _env("LABS_SMTP_URL", ""))
    mail_from: str = field(default_factory=lambda: _env("LABS_MAIL_FROM", "Labs <labs@localhost>"))
    debug: bool = field(default_factory=lambda: _env("LABS_DEBUG", "0") == "1")
    # One log line per request costs more CPU than writing a note (docs/performance.md); the
    # reverse proxy in front keeps its own access log.
    access_log: bool = field(default_factory=lambda: _env("LABS_ACCESS_LOG", "0") == "1")
    # The deletion log: kept beside, never inside, the database, so restoring an older backup of
    # the database leaves it whole and `labs privacy reapply` can erase those people again.
    deletion_log: Path = field(default_factory=lambda: Path(_env("LABS_DELETION_LOG", "")))
    templates_dir: Path = TEMPLATES_DIR
    static_dir: Path = ROOT / "static"

    def __post_init__(self) -> None:
        if not self.database_url:
            url = _env("LABS_DATABASE_URL", f"sqlite+aiosqlite:///{self.data_dir / 'labs.db'}")
            object.__setattr__(self, "database_url", normalise_db_url(url))
        if self.deletion_log == Path():
            object.__setattr__(self, "deletion_log", self.data_dir / "deletion-log.jsonl")
        if self.token_days > self.token_max_days:
            raise ValueError("LABS_TOKEN_DAYS must not be more than LABS_TOKEN_MAX_DAYS")
        if not self.secret_key:
            object.__setattr__(self, "secret_key", _env("LABS_SECRET_KEY", "") or self._stored_secret("secret_key"))
        if not self.pseudonym_key:
            key = _env("LABS_PSEUDONYM_KEY", "") or self._stored_secret("pseudonym_key")
            object.__setattr__(self, "pseudonym_key", key)

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS when the app is reached over HTTPS (behind a proxy, too)."""
        return self.public_url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def _stored_secret(self, name: str) -> str:
        # Generated once and kept in its own file in the data folder, so cookies and pseudonyms
        # survive restarts; a second process starting at the same moment reads the first one's.
        path = self.data_dir / name
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


def normalise_db_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://, sqlite:///) and pick async drivers."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
