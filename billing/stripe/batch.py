"""A per-batch memo for the inbox worker: the practice's time zone and the customers of a batch of
events are read once per batch instead of once per event. Outside a batch every lookup goes to the
database, so services behave the same whoever calls them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")
_memo: ContextVar[dict | None] = ContextVar("stripe_batch_memo", default=None)


@contextmanager
def batch_memo() -> Iterator[dict]:
    token = _memo.set({})
    try:
        yield _memo.get()
    finally:
        _memo.reset(token)


def remembered(key: tuple, load: Callable[[], T]) -> T:
    memo = _memo.get()
    if memo is None:
        return load()
    if key not in memo:
        memo[key] = load()
    return memo[key]


def remember(key: tuple, value) -> None:
    memo = _memo.get()
    if memo is not None:
        memo[key] = value


def in_batch() -> bool:
    return _memo.get() is not None
