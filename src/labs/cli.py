"""The `labs` command: serve the app, migrate the database, create accounts, load a demo.

Settings come from LABS_* environment variables (LABS_DATABASE_URL, LABS_DATA_DIR, LABS_HOST,
LABS_PORT, ...); see labs.settings. Migrations run synchronously here, before any event loop.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import IO, Any, TypeVar

import click
from sqlalchemy.engine import make_url

from labs import __version__, migrate
from labs.db import Database
from labs.errors import LabsError
from labs.models import Role
from labs.runtime import Runtime
from labs.settings import PACKAGE, Settings, get_settings

T = TypeVar("T")


# --- helpers -------------------------------------------------------------------------------


def _safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable database URL)"


def _run(settings: Settings, work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run an async service call with its own runtime, and dispose the database afterwards."""

    async def go() -> T:
        db = Database(settings.database_url)
        try:
            return await work(Runtime(settings, db))
        finally:
            await db.dispose()

    try:
        return asyncio.run(go())
    except LabsError as e:
        raise click.ClickException(e.message) from e


def _status(url: str) -> migrate.Status:
    try:
        return migrate.check(url)
    except Exception as e:
        raise click.ClickException(f"Cannot read the database at {_safe_url(url)}: {e}") from e


def _refuse_if_ahead(url: str, status: str) -> None:
    if status == "ahead":
        raise click.ClickException(
            f"The database is at revision {migrate.current(url)}, newer than this code "
            f"(head {migrate.head()}). Upgrade labs, or point LABS_DATABASE_URL elsewhere."
        )


def _upgrade(url: str, revision: str = "head") -> tuple[str | None, str | None]:
    before = migrate.current(url)
    try:
        migrate.upgrade(url, revision)
    except Exception as e:
        raise click.ClickException(f"Upgrading {_safe_url(url)} failed: {e}") from e
    return before, migrate.current(url)


def _require_ready(url: str) -> None:
    """Commands that use the data need the schema at head."""
    status = _status(url)
    _refuse_if_ahead(url, status)
    if status != "ok":
        raise click.ClickException(
            f"The database at {_safe_url(url)} is not up to date ({status}). Run `labs db upgrade` first."
        )


def _base_url(settings: Settings, host: str | None = None, port: int | None = None) -> str:
    if settings.public_url:
        return settings.public_url.rstrip("/")
    host = host or settings.host
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 (only to print a URL)
    return f"http://{shown}:{port or settings.port}"


# --- the group -----------------------------------------------------------------------------


@click.group(name="labs", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="labs")
def cli() -> None:
    """labs: run workshops, co-creation labs and learning communities, and trace what they
    lead to.

    \b
    Quick start on a laptop (SQLite in ./var, no other services needed):
      labs demo      load a demo community with three sessions (one live)
      labs serve     open http://127.0.0.1:8000

    Configure with LABS_* environment variables, e.g. LABS_DATABASE_URL
    (postgresql://user:pass@host/db), LABS_DATA_DIR, LABS_HOST, LABS_PORT, LABS_PUBLIC_URL.
    """


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="labs")


# --- serve ---------------------------------------------------------------------------------


@cli.command()
@click.option("--host", default=None, metavar="HOST", help="Address to listen on [default: LABS_HOST or 127.0.0.1].")
@click.option(
    "--port",
    default=None,
    type=click.IntRange(1, 65535),
    metavar="PORT",
    help="Port to listen on [default: LABS_PORT or 8000].",
)
@click.option(
    "--reload/--no-reload", default=False, show_default=True, help="Restart when the code changes (development only)."
)
def serve(host: str | None, port: int | None, reload: bool) -> None:
    """Run the web app.

    Checks the database first. On SQLite, pending migrations are applied automatically; on
    PostgreSQL run `labs db upgrade` yourself (e.g. in your deploy step). A database migrated by a
    newer version of labs is refused. With no accounts yet, the browser shows a one-time setup
    page to create the first admin.
    """
    settings = get_settings()
    url = settings.database_url
    status = _status(url)
    _refuse_if_ahead(url, status)
    if status in ("pending", "empty"):
        if not settings.is_sqlite:
            raise click.ClickException(
                f"The database at {_safe_url(url)} needs migrations ({status}). "
                "Run `labs db upgrade`, then start `labs serve` again."
            )
        before, after = _upgrade(url)
        click.echo(f"Migrated the SQLite database {_safe_url(url)}: {before or 'empty'} -> {after}.")
    host = host or settings.host
    port = port or settings.port
    from labs.services import accounts

    count = _run(settings, accounts.count)
    click.echo(f"labs {__version__} at {_base_url(settings, host, port)}  (database: {_safe_url(url)})")
    if count == 0:
        click.echo("No accounts yet: the browser shows a one-time setup page to create the first admin.")

    import uvicorn

    from labs.web import render

    render.warm("live/stream.html")
    options: dict[str, Any] = {}
    if reload:
        options["reload_dirs"] = [str(PACKAGE), str(settings.templates_dir)]
    uvicorn.run(
        "labs.app:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        ws_max_size=65536,
        # One frame goes to hundreds of phones: compressing it per connection costs more CPU than
        # the bytes it saves (see docs/performance.md).
        ws_per_message_deflate=False,
        proxy_headers=True,
        access_log=settings.access_log,
        **options,
    )


# --- db ------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database migrations (Alembic): upgrade, downgrade, current.

    They act on LABS_DATABASE_URL (default: SQLite in LABS_DATA_DIR, ./var/labs.db).
    """


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head, the newest this code knows)."""
    url = get_settings().database_url
    _refuse_if_ahead(url, _status(url))
    before, after = _upgrade(url, revision)
    if before == after:
        click.echo(f"Already at {after} ({_safe_url(url)}); nothing to do.")
    else:
        click.echo(f"Upgraded {_safe_url(url)}: {before or 'empty'} -> {after}.")


@db.command("downgrade", context_settings={"ignore_unknown_options": True})
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION.

    REVISION is a revision id, a relative step such as -1, or base (drops every table: all data
    is lost). Take a backup first.
    """
    url = get_settings().database_url
    before = migrate.current(url)
    try:
        migrate.downgrade(url, revision)
    except Exception as e:
        raise click.ClickException(f"Downgrading {_safe_url(url)} to {revision} failed: {e}") from e
    click.echo(f"Downgraded {_safe_url(url)}: {before or 'empty'} -> {migrate.current(url) or 'base'}.")


@db.command("current")
def db_current() -> None:
    """Show the database's revision and whether it matches this code."""
    url = get_settings().database_url
    status = _status(url)
    rev = migrate.current(url)
    meaning = {
        "ok": "up to date",
        "pending": "behind: run `labs db upgrade`",
        "ahead": "newer than this code: upgrade labs",
        "empty": "never migrated: run `labs db upgrade`",
    }[status]
    click.echo(f"{rev or '(none)'}  [{meaning}; head {migrate.head()}]  {_safe_url(url)}")


# --- users ---------------------------------------------------------------------------------


@cli.group()
def users() -> None:
    """Manage accounts (facilitators, researchers, admins)."""


@users.command("create")
@click.option("--email", required=True, help="Login email address.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="At least 10 characters; asked for when omitted (keeps it out of shell history).",
)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]), help="What the account may do.")
@click.option("--name", default="", help="Display name [default: the part of the email before @].")
def users_create(email: str, password: str, role: str, name: str) -> None:
    """Create an account.

    \b
    Roles:
      facilitator  plans and runs sessions
      researcher   studies what sessions led to: outcomes, follow-ups, traces
      admin        everything, including accounts
    """
    settings = get_settings()
    _require_ready(settings.database_url)
    from labs.services import accounts

    account = _run(
        settings,
        lambda rt: accounts.create(rt, email=email, password=password, role=role, display_name=name),
    )
    click.echo(f"Created {account.role.value} {account.email} ({account.display_name}).")


@cli.command("cleanup")
def cleanup() -> None:
    """Delete the login sessions and API tokens that have ended.

    Safe to run from cron (e.g. hourly) and beside running servers: it deletes only rows that no
    request can use any more (idle or past their expiry), so nobody is logged out by it. The app
    also removes an account's ended logins when that account logs in.
    """
    settings = get_settings()
    _require_ready(settings.database_url)
    from labs.services import accounts

    removed = _run(settings, accounts.remove_expired)
    click.echo(
        f"Removed {removed.login_sessions} ended login session(s) and {removed.api_tokens} expired API token(s)."
    )


# --- privacy -------------------------------------------------------------------------------


@cli.group()
def privacy() -> None:
    """Privacy requests: the deletion log."""


@privacy.command("reapply")
def privacy_reapply() -> None:
    """Erase again everyone in the deletion log (LABS_DELETION_LOG, by default
    deletion-log.jsonl in LABS_DATA_DIR) who is back in the database: run it after restoring an
    older backup. Safe to run again; it says what it did."""
    settings = get_settings()
    _require_ready(settings.database_url)
    from labs.services import privacy as service

    if not settings.deletion_log.exists():
        raise click.ClickException(
            f"There is no deletion log at {settings.deletion_log}. Set LABS_DELETION_LOG to the log kept "
            "beside the database you restored."
        )
    done = _run(settings, service.reapply)
    click.echo(
        f"Deletion log {settings.deletion_log}: {done.entries} erasures; erased again {done.participants} "
        f"participants and {done.members} members; {done.restored_entries} entries put back in the database."
    )


# --- export --------------------------------------------------------------------------------


@cli.command("export")
@click.argument("scope")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["csv", "json", "qdpx"]),
    default="csv",
    show_default=True,
    help="csv: a zip of CSV files with a data dictionary; json: one document; qdpx: a REFI-QDA project.",
)
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False, writable=True), help="The file to write.")
@click.option(
    "--as",
    "as_email",
    default=None,
    metavar="EMAIL",
    help="Export as this researcher (their grants; their memos in a .qdpx) [default: everything, as the system].",
)
def export_command(scope: str, format_: str, output: str | None, as_email: str | None) -> None:
    """Export SCOPE (session:<id>, community:<id> or all) for research, with each participant's
    consent applied. Read in batches and written to a temporary file first: an export that fails
    leaves no file. Logged like every export."""
    import os
    import sys
    import tempfile
    from pathlib import Path

    from labs.services import accounts, exports

    settings = get_settings()
    _require_ready(settings.database_url)
    target = Path(output or f"labs-{scope.replace(':', '-')}.{exports.FORMATS[format_]}")

    bar: Any = None

    def start(total: int) -> None:
        nonlocal bar
        bar = click.progressbar(length=total, label=f"Exporting {scope}", file=sys.stderr)
        bar.__enter__()

    def advance(rows: int) -> None:
        if bar is not None:
            bar.update(rows)

    async def work(rt: Runtime, fh: Any) -> dict[str, int]:
        account = await accounts.by_email(rt, as_email) if as_email else None
        if as_email and account is None:
            raise click.ClickException(f"There is no account {as_email}.")
        return await exports.export(rt, account, scope, format_, fh, via="cli", progress=advance, on_total=start)

    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as fh:
            counts = _run(settings, lambda rt: work(rt, fh))
        os.replace(partial, target)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        if os.path.exists(partial):
            os.unlink(partial)
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    click.echo(f"Wrote {target} ({summary}).")


# --- follow-ups ----------------------------------------------------------------------------


@cli.group()
def followups() -> None:
    """Check-ins on outcomes (by default 1, 3 and 6 months after their session)."""


@followups.command("send")
def followups_send() -> None:
    """Email each due check-in's private link to the outcome's owner, in the session's language.

    Safe to run from cron (e.g. daily): a check-in is sent once, and recorded as sent before it
    goes out, so runs that overlap never send it twice. Check-ins whose owner has no email are
    left to the facilitator's follow-up list (copy the link, or download the CSV of due links).
    Needs LABS_SMTP_URL (smtp://host:port, smtp://user:pass@host:587 or smtps://…:465) and, for
    the sender, LABS_MAIL_FROM; links use LABS_PUBLIC_URL. Exits 1 when the mail server refused one.
    """
    settings = get_settings()
    if not settings.smtp_url:
        raise click.ClickException("Set LABS_SMTP_URL (e.g. smtp://mail.example.org:587) to send check-ins.")
    from labs import mail
    from labs.services import followups as checkins

    try:
        deliver = mail.sender(settings.smtp_url)
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    _require_ready(settings.database_url)
    sent, failed = _run(settings, lambda rt: checkins.send_due(rt, deliver, _base_url(settings), settings.mail_from))
    for item in sent:
        click.echo(f"sent   check-in {item.follow_up_id} to {item.to} ({item.language}): {item.outcome}")
    for item in failed:
        click.echo(f"FAILED check-in {item.follow_up_id} to {item.to}: {item.reason}", err=True)
    click.echo(f"{len(sent)} check-in(s) sent, {len(failed)} failed." if sent or failed else "No check-ins to send.")
    if failed:
        raise SystemExit(1)


# --- cases ---------------------------------------------------------------------------------


@cli.group()
def cases() -> None:
    """The case library as CSV: import and export.

    \b
    Columns (the first line names them; title, city and country are required):
      title, summary, city, country (ISO code, e.g. NL), sdgs (1-17, separated by ;),
      topics (separated by ;), stage (idea, pilot, implemented, scaled, ended), organisation,
      links (separated by spaces), boosters, barriers, status (published or archived)
    The file is UTF-8. `labs cases export` writes exactly this, so an export imports again.
    """


@cases.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--skip-bad-rows", is_flag=True, help="Import the good rows even when some rows are bad.")
def cases_import(file: str, skip_bad_rows: bool) -> None:
    """Add the cases in FILE (CSV, UTF-8) to the library.

    Every row is checked first; each bad row is reported with its line number and reason, and
    then nothing is written unless --skip-bad-rows is given. All good rows are written in one
    transaction: an interrupted import leaves the library as it was.
    """
    import os

    from labs.services import case_csv
    from labs.services import cases as service

    settings = get_settings()
    _require_ready(settings.database_url)
    try:
        with (
            open(file, "rb") as binary,
            click.progressbar(length=os.path.getsize(file), label="Checking", file=sys.stderr) as bar,
        ):
            checked = case_csv.read(binary, bar.update)
    except LabsError as e:
        raise click.ClickException(f"{file}: {e.message} Nothing was imported.") from e
    for error in checked.errors:
        click.echo(f"{file}: {error}", err=True)
    if checked.errors and not skip_bad_rows:
        raise click.ClickException(
            f"{len(checked.errors)} bad row(s) in {file}; nothing was imported. Fix them, or import the "
            f"{len(checked.rows)} good row(s) with --skip-bad-rows."
        )
    if not checked.rows:
        raise click.ClickException(f"No cases to import in {file}.")

    async def write(rt: Runtime) -> int:
        with click.progressbar(length=len(checked.rows), label="Importing", file=sys.stderr) as bar:
            return await service.import_cases(rt, checked.rows, bar.update)

    count = _run(settings, write)
    skipped = f", skipped {len(checked.errors)} bad row(s)" if checked.errors else ""
    click.echo(f"Imported {count} case(s) from {file}{skipped}.")


@cases.command("export")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default="-",
    help="File to write [default: stdout].",
)
def cases_export(output: str) -> None:
    """Write the library (published and archived cases, oldest first) as CSV."""
    from labs.services import case_csv
    from labs.services import cases as service

    settings = get_settings()
    _require_ready(settings.database_url)

    async def export(rt: Runtime, out: IO[str]) -> int:
        count = 0
        writer = case_csv.write_header(out)
        async for case in service.export_cases(rt):
            writer.writerow(case_csv.row_of(case))
            count += 1
        return count

    with click.open_file(output, "w", encoding="utf-8") as out:
        count = _run(settings, lambda rt: export(rt, out))
    if output != "-":
        click.echo(f"Exported {count} case(s) to {output}.")


# --- demo ----------------------------------------------------------------------------------


@cli.command()
@click.option("--force", is_flag=True, help="Load it into a database that already holds accounts.")
def demo(force: bool) -> None:
    """Load a demo: a learning community of Dutch and European cities with three sessions,
    ten cases, notes, votes, outcomes and follow-ups. One session is left live to join from a
    phone.

    Migrates the database first. Refuses when the demo was loaded before; use a fresh
    LABS_DATA_DIR or LABS_DATABASE_URL for a new one. Refuses a database that holds accounts
    unless --force: the demo adds accounts (an admin among them) whose password it prints.
    """
    settings = get_settings()
    url = settings.database_url
    _refuse_if_ahead(url, _status(url))
    before, after = _upgrade(url)
    if before != after:
        click.echo(f"Migrated {_safe_url(url)}: {before or 'empty'} -> {after}.")
    from labs.demo import load_demo
    from labs.services import accounts

    if not force and (held := _run(settings, accounts.count)):
        raise click.ClickException(
            f"{_safe_url(url)} already holds {held} account(s). The demo adds accounts with a published "
            "password, an admin among them: load it into a fresh LABS_DATA_DIR, or pass --force."
        )
    result = _run(settings, load_demo)
    base = _base_url(settings)
    live = result["live"]
    click.echo(
        f"\nDemo loaded into {_safe_url(url)}: {result['community']['name']}, {len(result['sessions'])} "
        f"sessions, {result['cases']} cases from {len(result['cities'])} cities."
    )
    click.echo(f"\nLog in at {base}/login with one of these accounts (password: {result['password']}):")
    for account in result["accounts"]:
        click.echo(f"  {account['role']:<12} {account['email']:<34} {account['name']}")
    click.echo(f"\nLive now: {live['title']}")
    click.echo(f"  current activity: {live['activity']}")
    click.echo(f"  join code: {live['join_code']}")
    click.echo(f"  join from a phone: {base}/j/{live['join_code']}")
    click.echo(
        f"  pre-moderation is on: {live['waiting']} note waits for approval in {base}/sessions/{live['id']}/console"
    )
    hall = result["hall"]
    click.echo(f"\nA full hall: {hall['title']} ({hall['notes']} notes, join code {hall['join_code']})")
    click.echo(f"  projector: {base}/sessions/{hall['id']}/projector   console: {base}/sessions/{hall['id']}/console")
    trace, due = result["trace"], result["follow_ups"]
    click.echo("\nOne case from sharing to adoption (log in as a facilitator):")
    click.echo(f"  the meeting's record, where it was shared: {base}/sessions/{trace['shared_in']}")
    click.echo(f"  the outcome, its check-ins and the owner's answers: {base}/outcomes/{trace['outcome_id']}")
    click.echo(f"  the case it became: {base}/cases/{trace['derived_case_id']}")
    counts = ", ".join(f"{len(due.get(state, []))} {state}" for state in ("due", "overdue", "answered", "upcoming"))
    click.echo(f"  follow-ups ({counts}): {base}/followups")
    click.echo(f"  a poll and a scale end its agenda: open them from {base}/sessions/{live['id']}/console")
    click.echo(f"\nLiving labs: {base}/livinglabs (compare them at {base}/livinglabs/compare)")
    click.echo("\nStart the server with `labs serve`.")


if __name__ == "__main__":
    main()
