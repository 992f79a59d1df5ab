"""The ``--dask`` options of the batch commands (``gridmap patrols rebuild``,
``gridmap circles compute``) and the Dask client they open."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import click


def dask_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--dask``, ``--workers N`` and ``--scheduler ADDRESS`` to a command."""
    command = click.option(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="Dask scheduler to run on (implies --dask; default GRIDMAP_DASK_SCHEDULER).",
    )(command)
    command = click.option(
        "--workers",
        type=click.IntRange(1, 256),
        default=None,
        help="Worker processes of the local Dask cluster (implies --dask).",
    )(command)
    return click.option(
        "--dask", "use_dask", is_flag=True, help="Run on Dask distributed, tile by tile."
    )(command)


@contextmanager
def dask_client(use_dask: bool, workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A Dask client when asked for (``--dask``, ``--workers`` or ``--scheduler``), else
    None (the single-process path)."""
    if not (use_dask or workers or scheduler):
        yield None
        return
    from gridmap import distributed

    with ExitStack() as stack:
        try:
            client = stack.enter_context(distributed.dask_client(scheduler, workers))
        except (OSError, ValueError) as exc:  # an unreachable or malformed address
            where = f" {scheduler}" if scheduler else ""
            raise click.ClickException(f"Cannot reach the Dask scheduler{where}: {exc}") from exc
        yield client
