"""CLI: `flask --app emrs users create …`, `flask --app emrs seed-demo`."""
from __future__ import annotations

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
    @click.option("--no-otp", is_flag=True, help="Do not require a login code (integration service accounts).")
    def users_create(email, name, role, password, mobile, no_otp):
        """Create a user and print the new id."""
        from .auth import service
        data = {"email": email, "name": name, "role": role, "password": password,
                "two_factor_enabled": not no_otp}
        if mobile:
            data["mobile"] = mobile
        try:
            user = service.create_user(data)
        except DomainError as exc:
            detail = "; ".join(f"{e['path']}: {e['msg']}" for e in (exc.errors or []))
            raise click.ClickException(exc.message + (f" ({detail})" if detail else ""))
        click.echo(user.id)

    @app.cli.command("seed-demo")
    def seed_demo():
        """Idempotent synthetic demo data: one user per role and a handful of patients."""
        from .seed import seed_demo as run
        for line in run():
            click.echo(line)
