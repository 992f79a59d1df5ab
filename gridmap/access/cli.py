"""``gridmap user``: add, list, disable/enable accounts, set passwords, grids and areas
(command centres scoped to a district, street or community), issue and revoke tokens (API
tokens for intake clients, display tokens for wall screens)."""

from __future__ import annotations

import os

import click

from gridmap.cli_errors import friendly


def _engine():
    from gridmap.db.engine import database_url, get_engine

    return get_engine(database_url())


def _password(given: str | None, prompt: bool) -> str | None:
    """The password from --password, GRIDMAP_USER_PASSWORD, or a hidden prompt."""
    if given is not None:
        return given
    if os.environ.get("GRIDMAP_USER_PASSWORD"):
        return os.environ["GRIDMAP_USER_PASSWORD"]
    if prompt:
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return None


AREA_HELP = (
    "Command accounts only: scope to district:<code>, street:<code> or community:<code> "
    "(sees that area only; without it, the whole city)."
)


def _check_area(engine, area: str, role: str) -> None:
    from gridmap.access import Role
    from gridmap.access.accounts import _area_ref

    with engine.connect() as conn:
        _area_ref(conn, area, Role(role))


@click.group()
def user() -> None:
    """Accounts, roles, grid assignments and tokens."""


@user.command("add")
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["admin", "command", "grid_lead", "grid_worker", "planner", "api_client"]),
)
@click.option("--name", "display_name", help="Display name (default: the username).")
@click.option("--password", help="Password (else $GRIDMAP_USER_PASSWORD, else a prompt).")
@click.option("--grid", "grids", multiple=True, help="Grid code assigned (repeatable).")
@click.option("--area", help=AREA_HELP)
@friendly
def add(
    username: str,
    role: str,
    display_name: str | None,
    password: str | None,
    grids: tuple,
    area: str | None,
) -> None:
    """Create an account (api_client accounts get no password: issue a token)."""
    from gridmap.access.accounts import add_user

    engine = _engine()
    if area is not None:  # refuse a wrong area before asking for a password
        _check_area(engine, area, role)
    secret = None if role == "api_client" else _password(password, prompt=True)
    user_id = add_user(
        engine,
        username,
        role,
        secret,
        display_name=display_name,
        grid_codes=list(grids),
        area=area,
    )
    where = f", area: {area.strip()}" if area else ""
    click.echo(f"added {username} (id {user_id}, {role}, grids: {', '.join(grids) or '-'}{where})")


@user.command("list")
@click.option("--role", help="Only this role.")
@friendly
def list_(role: str | None) -> None:
    """The accounts: username, role, active, grids, area, live tokens, display name."""
    from gridmap.access import Role
    from gridmap.access.accounts import list_accounts

    accounts = list_accounts(_engine(), role)
    click.echo("username\trole\tactive\tgrids\tarea\ttokens\tname")
    for a in accounts:
        more = len(a.grid_codes) - 5
        grids = ",".join(a.grid_codes[:5]) + (f",…(+{more})" if more > 0 else "")
        area = str(a.area) if a.area else ("city" if a.role is Role.COMMAND else "-")
        click.echo(
            f"{a.username}\t{a.role.value}\t{'yes' if a.active else 'no'}\t{grids or '-'}"
            f"\t{area}\t{a.tokens}\t{a.display_name}"
        )
    click.echo(f"{len(accounts)} accounts", err=True)


@user.command("disable")
@click.argument("username")
@friendly
def disable(username: str) -> None:
    """Disable an account: its sessions and tokens stop working at once."""
    from gridmap.access.accounts import set_active

    set_active(_engine(), username, False)
    click.echo(f"disabled {username}")


@user.command("enable")
@click.argument("username")
@friendly
def enable(username: str) -> None:
    """Enable a disabled account again."""
    from gridmap.access.accounts import set_active

    set_active(_engine(), username, True)
    click.echo(f"enabled {username}")


@user.command("password")
@click.argument("username")
@click.option("--password", help="New password (else $GRIDMAP_USER_PASSWORD, else a prompt).")
@friendly
def password(username: str, password: str | None) -> None:
    """Set an account's password."""
    from gridmap.access.accounts import set_password

    set_password(_engine(), username, _password(password, prompt=True) or "")
    click.echo(f"password of {username} set")


@user.command("grids")
@click.argument("username")
@click.option("--grid", "grids", multiple=True, help="Grid code (repeatable); none: clear.")
@friendly
def grids(username: str, grids: tuple) -> None:
    """Replace the grids assigned to an account."""
    from gridmap.access.accounts import set_grids

    set_grids(_engine(), username, list(grids))
    click.echo(f"{username}: grids {', '.join(grids) or '-'}")


@user.command("area")
@click.argument("username")
@click.option("--area", help=AREA_HELP)
@click.option("--city", is_flag=True, help="Make the account whole-city again.")
@friendly
def area(username: str, area: str | None, city: bool) -> None:
    """Scope a command account to an area, or (--city) make it whole-city again."""
    from gridmap.access.accounts import set_area
    from gridmap.access.errors import AccountError

    if (area is None) == (not city):
        raise AccountError("Give exactly one of --area or --city.", hint=AREA_HELP)
    set_area(_engine(), username, None if city else area)
    click.echo(f"{username}: area {area.strip() if area else 'city'}")


@user.command("token")
@click.argument("username")
@click.option(
    "--kind",
    type=click.Choice(["api", "display"]),
    default="api",
    show_default=True,
    help="api: Authorization: Bearer for intake; display: /login?token= for a wall screen.",
)
@click.option("--label", help="What the token is for (shown in the database only).")
@click.option("--revoke", is_flag=True, help="Revoke every token of the account instead.")
@friendly
def token(username: str, kind: str, label: str | None, revoke: bool) -> None:
    """Issue a token (printed once; only its SHA-256 is stored), or --revoke them all."""
    from gridmap.access.accounts import issue_token, list_accounts, revoke_tokens
    from gridmap.access.errors import AccountError
    from gridmap.access.web import DISPLAY_ROLES

    engine = _engine()
    if revoke:
        click.echo(f"revoked {revoke_tokens(engine, username)} token(s) of {username}")
        return
    if kind == "display":
        roles = {a.username.lower(): a.role for a in list_accounts(engine)}
        if roles.get(username.lower()) not in DISPLAY_ROLES:
            raise AccountError(
                "Display tokens are for command-centre accounts (role command).",
                hint="a wall screen signs in as a command account",
            )
    click.echo(issue_token(engine, username, kind, label))  # type: ignore[arg-type]
