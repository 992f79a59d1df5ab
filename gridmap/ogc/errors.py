"""Errors of the OGC API: a safe message and the HTTP status it answers with."""

from __future__ import annotations

from gridmap.errors import GridmapError


class OgcError(GridmapError):
    """A request the OGC API cannot answer: bad parameters (400), unknown ids (404), or the
    database unavailable (503): the status is this error's ``http_status``."""

    def __init__(self, message: str, status: int = 400, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.http_status = status

    @property
    def code(self) -> str:
        """The OGC exception code for the status."""
        codes = {400: "InvalidParameterValue", 404: "NotFound", 405: "InvalidRequest"}
        return codes.get(self.http_status, "ServerError")
