"""CLI: `flask --app emrs users create …`, `files sweep`, `icd11 import|status`, `seed-demo`, `backup`,
`restore`."""
from __future__ import annotations

import os

import click
from flask import Flask

from .errors import DomainError


def register(app: Flask) -> None:
    @app.cli.group("users")
    def users():
        """Manage user accounts."""

    @users.command("create")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--role", required=True, help="Admin, Faculty, Resident or 'Psychiatric Welfare Officer'")
    @click.option("--password", required=True)
    @click.option("--mobile", default=None)
    @click.option("--grade", default=None, help="Residents: JR (Junior Resident, the default) or SR (Senior Resident).")
    @click.option("--no-otp", is_flag=True, help="Do not require a login code (integration service accounts).")
    def users_create(email, name, role, password, mobile, grade, no_otp):
        """Create a user and print the new id."""
        from .auth import service
        data = {"email": email, "name": name, "role": role, "password": password,
                "two_factor_enabled": not no_otp}
        if grade:
            data["grade"] = grade
        if mobile:
            data["mobile"] = mobile
        try:
            user = service.create_user(data)
        except DomainError as exc:
            detail = "; ".join(f"{e['path']}: {e['msg']}" for e in (exc.errors or []))
            raise click.ClickException(exc.message + (f" ({detail})" if detail else ""))
        click.echo(user.id)

    @app.cli.group("files")
    def files():
        """Stored patient files."""

    @files.command("sweep")
    @click.option("--older-than-minutes", default=60, show_default=True, type=click.IntRange(min=0),
                  help="Only files last written at least this long ago (longer than any upload takes).")
    @click.option("--dry-run", is_flag=True, help="List what would be removed; remove nothing.")
    def files_sweep(older_than_minutes, dry_run):
        """Remove stored files that no file row references (an upload killed before its commit)."""
        import datetime as dt

        from .patients import files as patient_files
        paths = patient_files.sweep(dt.timedelta(minutes=older_than_minutes), dry_run=dry_run)
        for path in paths:
            click.echo(path)
        click.echo(f"{'would remove' if dry_run else 'removed'} {len(paths)} unreferenced file(s) "
                   f"older than {older_than_minutes} minute(s)")

    from .clinical.icd11_import import DEFAULT_CHAPTERS as ICD11_DEFAULT_CHAPTERS

    @app.cli.group("icd11")
    def icd11_group():
        """The ICD-11 tree: load WHO's release file, show what is loaded."""

    @icd11_group.command("import")
    @click.argument("path", type=click.Path(dir_okay=False))
    @click.option("--release", default=None,
                  help="The release's name as WHO gives it, e.g. 2026-01 (default: the file's \"Version:\" header).")
    @click.option("--chapters", default=",".join(ICD11_DEFAULT_CHAPTERS), show_default=True,
                  help="Chapters to load, separated by commas.")
    def icd11_import(path, release, chapters):
        """Load WHO's LinearizationMiniOutput-MMS-en.txt (ICD-11 MMS, CC BY-ND 3.0 IGO) into the
        tree: idempotent per release; the hospital's local additions are kept."""
        from .clinical import icd11_import as importer
        try:
            report = importer.import_file(path, release=release, chapters=chapters)
        except importer.ImportRefused as exc:
            raise click.ClickException(str(exc))
        for line in report.lines():
            click.echo(line)

    @icd11_group.command("status")
    def icd11_status():
        """The loaded ICD-11 releases, their rows per chapter, and the local additions."""
        from .clinical import icd11
        rows = icd11.releases()
        if not rows:
            click.echo("no ICD-11 release loaded")
        for r in rows:
            active = ", ".join(f"chapter {ch}: {n}" for ch, n in sorted(r["active"].items())) or "none"
            click.echo(f"release {r['release']}: active {active}; inactive rows {r['inactive']}")
        click.echo(f"local additions (active): {icd11.local_count()}")

    @app.cli.command("seed-demo")
    def seed_demo():
        """Idempotent synthetic demo data: one user per role and a handful of patients."""
        from .seed import seed_demo as run
        for line in run():
            click.echo(line)

    @app.cli.command("backup")
    @click.option("--output", "-o", default=None, type=click.Path(dir_okay=False),
                  help="Where to write the backup (default: instance/backups/emrs-<UTC time>.dump|.sqlite).")
    def backup_command(output):
        """Back up the database (pg_dump custom format; SQLite: a consistent copy); print the file."""
        from . import backup as backups
        url, schema = _database(app)
        target = output or backups.default_output(url, os.path.join(app.instance_path, "backups"))
        try:
            path = backups.backup(url, target, schema=schema)
        except backups.BackupError as exc:
            raise click.ClickException(str(exc))
        click.echo(str(path))

    @app.cli.command("restore")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--yes", is_flag=True, help="Confirm: every table is replaced by the backup's contents.")
    def restore_command(file, yes):
        """Replace the database's contents with a backup made by `backup`."""
        from . import backup as backups
        if not os.path.isfile(file):
            raise click.ClickException(f"backup file {file} does not exist")
        if not yes:
            raise click.ClickException("restore replaces every table of the database with the backup; "
                                       "run again with --yes to confirm")
        url, schema = _database(app)
        from .extensions import db
        with app.app_context():
            db.engine.dispose()  # no pooled connection of this process holds a table open
        try:
            backups.restore(url, file, schema=schema)
        except backups.BackupError as exc:
            raise click.ClickException(str(exc))
        click.echo(f"restored {file}")


    @app.cli.group("opd")
    def opd():
        """The OPD day."""

    @opd.command("close-day")
    def opd_close_day():
        """Close visits of earlier days still scheduled or in progress (as completed, each
        audited as visit_close_day); today's are never touched. Run it after midnight IST
        (cron); Today's Patients also does it lazily when it loads."""
        from .opd import queue
        with app.app_context():
            n = queue.close_earlier_days(force=True)
        click.echo(f"closed {n} visit(s) of earlier days")


def _database(app: Flask) -> tuple[str, str | None]:
    """The database URL and, on PostgreSQL, the schema selected by search_path (if any)."""
    from .backup import is_postgres, schema_from_engine_options
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    schema = schema_from_engine_options(app.config.get("SQLALCHEMY_ENGINE_OPTIONS")) if is_postgres(url) else None
    return url, schema
