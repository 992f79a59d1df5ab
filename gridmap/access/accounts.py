"""Accounts in the ``users`` table: add, list, disable, assign grids or an area (command
centres: a district, street or community, migration 0026), authenticate, and the
bearer/display tokens of ``user_tokens`` (a random secret shown once, stored as SHA-256)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, Engine, text

from gridmap.access import AREA_KINDS, Area, Role, User
from gridmap.access.errors import AccountError
from gridmap.access.passwords import MIN_LENGTH, hash_password, needs_rehash, verify_password

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
TokenKind = Literal["api", "display"]
#: Prefix of every token, so a leaked one is recognisable (e.g. by secret scanners).
TOKEN_PREFIX = "gmt_"

#: The area columns of ``users`` per area kind, and the table each names.
AREA_COLUMNS = {
    "district": ("area_district_id", "districts"),
    "street": ("area_street_id", "streets"),
    "community": ("area_community_id", "communities"),
}

# An account's area as (kind, id, code, name), NULL when it has none.
_AREA_SQL = """
CASE WHEN u.area_district_id IS NOT NULL THEN 'district'
     WHEN u.area_street_id IS NOT NULL THEN 'street'
     WHEN u.area_community_id IS NOT NULL THEN 'community' END AS area_kind,
coalesce(ad.id, ast.id, ac.id) AS area_id,
coalesce(ad.code, ast.code, ac.code) AS area_code,
coalesce(ad.name, ast.name, ac.name) AS area_name
"""
_AREA_JOINS = """
LEFT JOIN districts ad ON ad.id = u.area_district_id
LEFT JOIN streets ast ON ast.id = u.area_street_id
LEFT JOIN communities ac ON ac.id = u.area_community_id
"""

# grid_ids: the assigned grids plus those of the account's area (the set the row-level
# security policies check, migration 0026).
_USER_SQL = (
    """
SELECT u.id, u.username, u.display_name, u.role, u.active, u.password_hash,
       gridmap_account_grids(u.id) AS grid_ids,"""
    + _AREA_SQL
    + "FROM users u"
    + _AREA_JOINS
    + "WHERE {where}"
)


@dataclass(frozen=True)
class Account:
    """A row of ``users`` as the CLI lists it."""

    id: int
    username: str
    display_name: str
    role: Role
    active: bool
    grid_codes: tuple[str, ...]
    tokens: int
    created_at: datetime
    area: Area | None = None


def _area(row) -> Area | None:
    if row.area_kind is None:
        return None
    return Area(row.area_kind, row.area_id, row.area_code, row.area_name)


def _user(row) -> User:
    return User(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        role=Role(row.role),
        grid_ids=frozenset(row.grid_ids),
        area=_area(row),
    )


def load_user(conn: Connection, user_id: int) -> User | None:
    """The active account ``user_id`` with its grids, or None (unknown or disabled)."""
    row = conn.execute(text(_USER_SQL.format(where="u.id = :id")), {"id": user_id}).first()
    return _user(row) if row is not None and row.active else None


def authenticate(engine: Engine, username: str, password: str) -> User | None:
    """The active account whose password matches, or None (never says which part failed)."""
    with engine.begin() as conn:
        row = conn.execute(
            text(_USER_SQL.format(where="lower(u.username) = lower(:name)")),
            {"name": username.strip()},
        ).first()
        ok = verify_password(row.password_hash if row is not None else None, password)
        if not ok or row is None or not row.active:
            return None
        if needs_rehash(row.password_hash):
            conn.execute(
                text("UPDATE users SET password_hash = :h WHERE id = :id"),
                {"h": hash_password(password), "id": row.id},
            )
        return _user(row)


def _grid_ids(conn: Connection, codes: list[str]) -> list[int]:
    if not codes:
        return []
    found = dict(
        conn.execute(text("SELECT code, id FROM grids WHERE code = ANY(:c)"), {"c": codes}).all()
    )
    missing = [c for c in codes if c not in found]
    if missing:
        raise AccountError(
            f"Unknown grid code {missing[0]!r}.", hint="gridmap user add --grid takes grid codes"
        )
    return [found[c] for c in codes]


def _area_ref(conn: Connection, spec: str, role: Role) -> tuple[str, int]:
    """``(column, id)`` of the area ``spec`` (``street:<code>``, ``district:<code>`` or
    ``community:<code>``) for an account of ``role``; AccountError when it is not one."""
    hint = "--area takes district:<code>, street:<code> or community:<code>"
    kind, sep, code = spec.strip().partition(":")
    kind, code = kind.strip().lower(), code.strip()
    if not sep or kind not in AREA_KINDS or not code:
        raise AccountError(f"Area {spec[:70]!r} is not one.", hint=hint)
    if role is not Role.COMMAND:
        raise AccountError(
            "Only command-centre accounts (role command) can be scoped to an area.",
            hint="grid leads and workers are given grids: --grid",
        )
    column, table = AREA_COLUMNS[kind]
    area_id = conn.execute(text(f"SELECT id FROM {table} WHERE code = :c"), {"c": code}).scalar()
    if area_id is None:
        raise AccountError(f"Unknown {kind} code {code[:70]!r}.", hint=hint)
    return column, area_id


def check_password(password: str) -> None:
    """Refuse a password too short to be one."""
    if len(password) < MIN_LENGTH:
        raise AccountError(f"The password must have at least {MIN_LENGTH} characters.")


def add_user(
    engine: Engine,
    username: str,
    role: Role | str,
    password: str | None,
    *,
    display_name: str | None = None,
    grid_codes: list[str] | None = None,
    area: str | None = None,
) -> int:
    """Create an account (no password: it can sign in only by token); return its id.
    ``area`` (command accounts only): ``district|street|community:<code>``, the account
    then sees that area only; without it a command account sees the whole city."""
    if not USERNAME.match(username):
        raise AccountError(
            f"Username {username[:70]!r} is not allowed.",
            hint="2-64 letters, digits or _ . @ -",
        )
    try:
        role = Role(role)
    except ValueError:
        raise AccountError(
            f"Unknown role {role!r}.", hint="one of " + ", ".join(r.value for r in Role)
        ) from None
    if password is not None:
        check_password(password)
    with engine.begin() as conn:
        if conn.execute(
            text("SELECT 1 FROM users WHERE lower(username) = lower(:u)"), {"u": username}
        ).first():
            raise AccountError(f"User {username!r} exists already.")
        grid_ids = _grid_ids(conn, grid_codes or [])
        area_ref = _area_ref(conn, area, role) if area is not None else None
        user_id = conn.execute(
            text(
                "INSERT INTO users (username, display_name, role, password_hash) "
                "VALUES (:u, :d, :r, :h) RETURNING id"
            ),
            {
                "u": username,
                "d": display_name or username,
                "r": role.value,
                "h": hash_password(password) if password is not None else None,
            },
        ).scalar_one()
        if area_ref is not None:
            conn.execute(
                text(f"UPDATE users SET {area_ref[0]} = :a WHERE id = :id"),
                {"a": area_ref[1], "id": user_id},
            )
        for grid_id in grid_ids:
            conn.execute(
                text("INSERT INTO user_grids (user_id, grid_id) VALUES (:u, :g)"),
                {"u": user_id, "g": grid_id},
            )
    return user_id


def _user_id(conn: Connection, username: str) -> int:
    user_id = conn.execute(
        text("SELECT id FROM users WHERE lower(username) = lower(:u)"), {"u": username}
    ).scalar()
    if user_id is None:
        raise AccountError(f"No user {username!r}.", hint="gridmap user list shows them")
    return user_id


def set_password(engine: Engine, username: str, password: str) -> None:
    """Replace an account's password."""
    check_password(password)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET password_hash = :h WHERE id = :id"),
            {"h": hash_password(password), "id": _user_id(conn, username)},
        )


def set_grids(engine: Engine, username: str, grid_codes: list[str]) -> None:
    """Replace the grids an account is assigned to."""
    with engine.begin() as conn:
        user_id = _user_id(conn, username)
        grid_ids = _grid_ids(conn, grid_codes)
        conn.execute(text("DELETE FROM user_grids WHERE user_id = :u"), {"u": user_id})
        for grid_id in grid_ids:
            conn.execute(
                text("INSERT INTO user_grids (user_id, grid_id) VALUES (:u, :g)"),
                {"u": user_id, "g": grid_id},
            )


def set_area(engine: Engine, username: str, area: str | None) -> None:
    """Scope a command account to ``area`` (``district|street|community:<code>``), or make
    it whole-city again (None)."""
    with engine.begin() as conn:
        user_id = _user_id(conn, username)
        role = Role(
            conn.execute(
                text("SELECT role FROM users WHERE id = :id"), {"id": user_id}
            ).scalar_one()
        )
        area_ref = _area_ref(conn, area, role) if area is not None else None
        conn.execute(
            text(
                "UPDATE users SET area_district_id = NULL, area_street_id = NULL, "
                "area_community_id = NULL WHERE id = :id"
            ),
            {"id": user_id},
        )
        if area_ref is not None:
            conn.execute(
                text(f"UPDATE users SET {area_ref[0]} = :a WHERE id = :id"),
                {"a": area_ref[1], "id": user_id},
            )


def set_active(engine: Engine, username: str, active: bool) -> None:
    """Disable (or enable again) an account; a disabled one's tokens stop working too."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET active = :a WHERE id = :id"),
            {"a": active, "id": _user_id(conn, username)},
        )


def list_accounts(engine: Engine, role: str | None = None) -> list[Account]:
    """Every account (or those of one role), by username."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                """
                SELECT u.id, u.username, u.display_name, u.role, u.active, u.created_at,
                       coalesce((SELECT array_agg(g.code ORDER BY g.code)
                                 FROM user_grids ug JOIN grids g ON g.id = ug.grid_id
                                 WHERE ug.user_id = u.id), '{}') AS grid_codes,
                       (SELECT count(*) FROM user_tokens t
                        WHERE t.user_id = u.id AND t.revoked_at IS NULL) AS tokens, """
                + _AREA_SQL
                + "FROM users u"
                + _AREA_JOINS
                + """
                WHERE CAST(:role AS text) IS NULL OR u.role = :role
                ORDER BY u.username
                """
            ),
            {"role": role},
        ).all()
    return [
        Account(
            r.id,
            r.username,
            r.display_name,
            Role(r.role),
            r.active,
            tuple(r.grid_codes),
            r.tokens,
            r.created_at,
            _area(r),
        )
        for r in rows
    ]


def token_digest(token: str) -> str:
    """SHA-256 (hex) of a token: tokens are long random secrets, so a fast hash suffices
    and lets the database find one by index."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(engine: Engine, username: str, kind: TokenKind, label: str | None = None) -> str:
    """A new token for the account (returned once; only its digest is stored)."""
    if kind not in ("api", "display"):
        raise AccountError(f"Unknown token kind {kind!r}.", hint="api or display")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        user_id = _user_id(conn, username)
        conn.execute(
            text(
                "INSERT INTO user_tokens (user_id, kind, token_sha256, label) "
                "VALUES (:u, :k, :d, :l)"
            ),
            {"u": user_id, "k": kind, "d": token_digest(token), "l": label},
        )
    return token


def revoke_tokens(engine: Engine, username: str) -> int:
    """Revoke every token of the account; return how many were live."""
    with engine.begin() as conn:
        return conn.execute(
            text(
                "UPDATE user_tokens SET revoked_at = now() "
                "WHERE user_id = :u AND revoked_at IS NULL"
            ),
            {"u": _user_id(conn, username)},
        ).rowcount


def user_for_token(engine: Engine, token: str, kind: TokenKind) -> User | None:
    """The active account holding this live token of ``kind``, or None."""
    if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    with engine.begin() as conn:
        user_id = conn.execute(
            text(
                "UPDATE user_tokens SET last_used_at = now() "
                "WHERE token_sha256 = :d AND kind = :k AND revoked_at IS NULL "
                "RETURNING user_id"
            ),
            {"d": token_digest(token), "k": kind},
        ).scalar()
        return load_user(conn, user_id) if user_id is not None else None
