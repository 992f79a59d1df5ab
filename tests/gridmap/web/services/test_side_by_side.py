"""Reads run side by side: in order, in the caller's context, failures kept per read."""

from __future__ import annotations

import contextvars
import threading

import pytest

from gridmap.web.services.side_by_side import side_by_side

WHO = contextvars.ContextVar("who", default="nobody")


def test_calls_run_in_the_callers_context_on_other_threads_in_order() -> None:
    WHO.set("lead")
    here = threading.get_ident()
    futures = side_by_side([lambda: (WHO.get(), threading.get_ident()), lambda: 2, lambda: 3])
    (who, thread), two, three = (f.result() for f in futures)
    assert who == "lead" and thread != here and (two, three) == (2, 3)
    assert side_by_side([]) == []


def test_a_failing_call_keeps_its_exception_and_the_others_their_results() -> None:
    def fail() -> None:
        raise ValueError("no")

    ok, bad = side_by_side([lambda: 1, fail], workers=1)
    assert ok.result() == 1
    with pytest.raises(ValueError, match="no"):
        bad.result()
