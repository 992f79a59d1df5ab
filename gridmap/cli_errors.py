"""How every ``gridmap`` command reports a gridmap error: a message (and a hint) on stderr
and exit code 2, never a traceback. Its own module so that the subsystems' command groups
can import it while ``gridmap.cli`` imports them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from gridmap.errors import GridmapError


def friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show gridmap errors as a message and exit code 2, never a traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GridmapError as exc:
            click.secho(f"error: {exc.message}", fg="red", err=True)
            if exc.hint:
                click.echo(f"hint: {exc.hint}", err=True)
            sys.exit(2)

    return wrapper
