"""One mechanism that confines every ORM query to the units the current request may see.

Each request starts with an empty scope (it sees nothing); authentication widens it to the
user's active unit. Queries outside a request (CLI commands, jobs) run unscoped, as the system.
A query that must look across units on purpose (the login lookup) says so with
`execution_options(unscoped=True)`.

Rows with a `unit_id` (the mixins below) are confined here. Models scoped by another rule (units
themselves, the people who are members of them) add their criteria with `add_scope_criteria`; this
module names no model, so every model module may import it.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import g, has_request_context
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import ForeignKey, event
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria


class ScopedByUnit:
    """Mixin: rows carry a `unit_id` and a request sees only its unit's rows.

    Used as is by logs that must outlive what they describe (no foreign key).
    """

    unit_id: Mapped[int | None] = mapped_column(index=True)


class UnitScoped(ScopedByUnit):
    """Mixin for records that belong to one unit (with a foreign key to it)."""

    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)  # type: ignore[assignment]


ScopeCriteria = Callable[[tuple[int, ...]], Iterable[Any]]
"""Given the unit ids a request may see, the `with_loader_criteria` options that confine more models."""

_criteria: list[ScopeCriteria] = []


def add_scope_criteria(criteria: ScopeCriteria) -> None:
    """Confine more models than those with a `unit_id` (registered by their package when the app is built)."""
    if criteria not in _criteria:
        _criteria.append(criteria)


def set_scope(unit_ids: Iterable[int]) -> None:
    g.qms_scope = tuple(unit_ids)


def current_scope() -> tuple[int, ...] | None:
    """The unit ids this request may see, or None outside a request (system context)."""
    if not has_request_context():
        return None
    return g.get("qms_scope", ())


@event.listens_for(Session, "do_orm_execute")
def _confine_to_scope(state: ORMExecuteState) -> None:
    if not state.is_select or state.execution_options.get("unscoped"):
        return
    units = current_scope()
    if units is None:
        return
    state.statement = state.statement.options(
        with_loader_criteria(ScopedByUnit, lambda cls: cls.unit_id.in_(units), include_aliases=True),
        *(option for criteria in _criteria for option in criteria(units)),
    )


class ScopedSession(FlaskSession):
    """A session whose `get` cannot bypass the scope through its identity map.

    `Session.get` returns an object already in the session without any SQL, so the scope
    criteria above would never see it (an object loaded earlier in the request on purpose
    without scope, such as the user's memberships in every unit). Inside a request scope it
    always asks the database, through the scoped query.
    """

    def get(self, entity: Any, ident: Any, **kwargs: Any) -> Any:
        unscoped = (kwargs.get("execution_options") or {}).get("unscoped")
        if current_scope() is not None and not unscoped:
            # Forced, not defaulted: the scoped_session proxy always passes populate_existing.
            kwargs["populate_existing"] = True
        return super().get(entity, ident, **kwargs)
