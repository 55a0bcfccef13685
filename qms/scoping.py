"""One mechanism that confines every ORM query to the units the current request may see.

Each request starts with an empty scope (it sees nothing); authentication widens it to the
user's active unit. Queries outside a request (CLI commands, jobs) run unscoped, as the system.
A query that must look across units on purpose (the login lookup) says so with
`execution_options(unscoped=True)`.
"""
from __future__ import annotations

from collections.abc import Iterable

from typing import Any

from flask import g, has_request_context
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import ForeignKey, event, select
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, with_loader_criteria


class ScopedByUnit:
    """Mixin: rows carry a `unit_id` and a request sees only its unit's rows.

    Used as is by logs that must outlive what they describe (no foreign key).
    """

    unit_id: Mapped[int | None] = mapped_column(index=True)


class UnitScoped(ScopedByUnit):
    """Mixin for records that belong to one unit (with a foreign key to it)."""

    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)  # type: ignore[assignment]


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
    from qms.auth.models import Membership, Unit, User  # models import this module

    members = select(Membership.user_id).where(Membership.unit_id.in_(units))
    state.statement = state.statement.options(
        with_loader_criteria(ScopedByUnit, lambda cls: cls.unit_id.in_(units), include_aliases=True),
        with_loader_criteria(Unit, Unit.id.in_(units), include_aliases=True),
        with_loader_criteria(User, User.id.in_(members), include_aliases=True),
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


def record_or_404(model: type[Any], record_id: int, what: str) -> Any:
    """The record with this id among those the request may see; another unit's record is unknown (404)."""
    from flask import abort

    from qms.extensions import db  # here, not at the top: qms.extensions builds its session from this module

    record = db.session.get(model, record_id)
    if record is None:
        abort(404, description=f"No such {what} in this unit.")
    return record
