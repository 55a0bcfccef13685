"""Who may open which endpoint: declared on each view, enforced in one place.

Every view declares its access with `@requires(...)` or `@public`. The check runs before every
request (`enforce_access`); an endpoint without a declaration is refused, so a new route is
closed until someone decides who may use it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from qms.auth.models import Role

F = TypeVar("F", bound=Callable[..., Any])

ALL_ROLES = frozenset(Role)
STAFF = frozenset(Role) - {Role.ADMIN}  # everyone who works with the unit's records


@dataclass(frozen=True)
class Access:
    public: bool = False
    signed_in: bool = False  # any logged-in user, whatever their roles (their own account pages)
    read: frozenset[Role] = frozenset()
    write: frozenset[Role] = frozenset()

    def roles_for(self, method: str) -> frozenset[Role]:
        return self.read if method in ("GET", "HEAD", "OPTIONS") else self.write

    def allows(self, method: str, roles: frozenset[Role]) -> bool:
        return self.signed_in or bool(roles & self.roles_for(method))


def requires(read: Iterable[Role], write: Iterable[Role] | None = None) -> Callable[[F], F]:
    """Allow GET to holders of `read` roles and other methods to holders of `write` roles."""
    access = Access(read=frozenset(read), write=frozenset(read if write is None else write))

    def mark(view: F) -> F:
        view.access = access  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    view.access = Access(public=True)  # type: ignore[attr-defined]
    return view


def signed_in(view: F) -> F:
    view.access = Access(signed_in=True)  # type: ignore[attr-defined]
    return view


def access_of(view: Callable[..., Any] | None) -> Access | None:
    """The declared access of a view function or of the class behind a MethodView."""
    if view is None:
        return None
    declared = getattr(view, "access", None)
    if declared is None and hasattr(view, "view_class"):
        declared = getattr(view.view_class, "access", None)
    return declared
