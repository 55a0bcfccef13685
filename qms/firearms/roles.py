"""Who may read and who may write the firearm register (the views, the API and the services share these)."""
from __future__ import annotations

from collections.abc import Iterable

from qms.auth.models import Role, User
from qms.auth.services import roles_in
from qms.errors import NotPermitted

READERS = frozenset(Role) - {Role.ADMIN}
RECORDERS = frozenset({Role.EXAMINER, Role.CSI_OFFICER})  # enter records and events, decide leads


def require(actor: User, unit_id: int, roles: Iterable[Role], message: str) -> None:
    """Refuse, with the message, an actor who holds none of the roles in the unit."""
    if not roles_in(actor, unit_id) & frozenset(roles):
        raise NotPermitted(message)
