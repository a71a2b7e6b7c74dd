"""Who did something: a staff user, or a named part of the system (a job, a webhook handler)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


@dataclass(frozen=True)
class Actor:
    user: AbstractBaseUser | None = None
    system: str = ""

    def __post_init__(self) -> None:
        if (self.user is None) == (not self.system):
            raise ValueError("An actor is either a user or a system component, exactly one of them")

    @classmethod
    def of(cls, user: AbstractBaseUser) -> Actor:
        return cls(user=user)

    @classmethod
    def system_component(cls, name: str) -> Actor:
        return cls(system=name)

    @property
    def label(self) -> str:
        return self.user.get_username() if self.user is not None else self.system

    @property
    def user_id(self) -> int | None:
        return self.user.pk if self.user is not None else None
