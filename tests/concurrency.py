"""Run callables at the same moment, each in its own thread with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_at_once(calls: list[Callable[[], object]], *, timeout: float = 30) -> list:
    """Start every call together (a barrier) and wait for all; return their results in call order. A call
    that raises gives "error: <Type>: <message>" instead, so a test can assert there were none."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i: int, call: Callable[[], object]) -> None:
        from django.db import connection

        try:
            barrier.wait(timeout=timeout)
            results[i] = call()
        except Exception as exc:
            results[i] = f"error: {type(exc).__name__}: {exc}"
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results
