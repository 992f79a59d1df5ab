"""Reads run side by side for one request: each in a copy of the caller's context (the
request and its signed-in user, so row-level security scopes it as in the request), each
on its own pooled connection. The slowest read, not the sum of them, sets the answer's time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import copy_context
from typing import TypeVar

T = TypeVar("T")


def side_by_side(calls: Sequence[Callable[[], T]], workers: int | None = None) -> list[Future[T]]:
    """Run ``calls`` at once (at most ``workers`` together; default: all) and wait for them:
    their futures, in order, each holding its result or its exception."""
    if not calls:
        return []
    with ThreadPoolExecutor(max_workers=workers or len(calls)) as pool:
        return [pool.submit(copy_context().run, call) for call in calls]
