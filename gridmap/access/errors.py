"""The access error family: safe messages for refused sign-ins and bad account input."""

from __future__ import annotations

from gridmap.errors import GridmapError


class AccessError(GridmapError):
    """Access was refused or an account operation failed; ``http_status`` says how."""

    http_status = 403


class AccountError(AccessError):
    """Bad account input (unknown user or grid, weak password, bad username)."""

    http_status = 400


class LoginFailed(AccessError):
    """Wrong username or password, or a disabled account (deliberately not told apart)."""

    http_status = 401


class RateLimited(AccessError):
    """Too many failed logins for this account or address; ``retry_after`` seconds."""

    http_status = 429

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after
