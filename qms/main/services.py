"""What each role's dashboard shows."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import current_app
from flask.sansio.app import App
from sqlalchemy import func, select

from audits.localized import Coverage, coverage
from qms.auth.models import LoginAttempt, Membership, Role, User
from qms.db import utcnow
from qms.extensions import db
from qms.i18n.catalogues import CatalogueState, catalogue_state
from qms.i18n.languages import LANGUAGES, Language
from qms.trail.models import AuditEvent


@dataclass(frozen=True)
class Panel:
    """A card another domain adds to the dashboard: its template is included with `context`."""

    title: str
    template: str
    context: dict[str, Any]
    order: int = 50


PanelProvider = Callable[[User, int | None, frozenset[Role]], list[Panel]]
PROVIDERS = "qms_dashboard_panel_providers"  # the app's extension key: providers added at blueprint set-up


def add_panel_provider(app: App, provider: PanelProvider) -> None:
    """Show `provider(user, unit_id, roles)`'s panels on `app`'s dashboard too.

    For panels that cannot live in their domain's `services` module without an import cycle: the
    domain registers them from its views (`Blueprint.record_once`), which import both sides.
    """
    providers: list[PanelProvider] = app.extensions.setdefault(PROVIDERS, [])
    if provider not in providers:
        providers.append(provider)


@dataclass
class Dashboard:
    panels: list[str] = field(default_factory=list)
    domain_panels: list[Panel] = field(default_factory=list)
    my_recent_changes: list[AuditEvent] = field(default_factory=list)
    unit_recent_changes: list[AuditEvent] = field(default_factory=list)
    member_count_by_role: dict[str, int] = field(default_factory=dict)
    users_without_mfa: list[User] = field(default_factory=list)
    failed_logins_24h: int = 0


def dashboard_for(user: User, unit_id: int | None, roles: frozenset[Role]) -> Dashboard:
    board = Dashboard()
    board.my_recent_changes = list(db.session.scalars(
        select(AuditEvent).where(AuditEvent.user_id == user.id).order_by(AuditEvent.id.desc()).limit(8)))
    if roles & {Role.QUALITY_MANAGER, Role.AUDITOR, Role.ADMIN}:
        board.panels.append("unit_activity")
        board.unit_recent_changes = list(db.session.scalars(
            select(AuditEvent).order_by(AuditEvent.id.desc()).limit(10)))
    if Role.ADMIN in roles:
        board.panels.append("accounts")
        board.member_count_by_role = _members_by_role()
        board.users_without_mfa = _users_without_mfa()
        board.failed_logins_24h = _failed_logins_since(hours=24)
    board.domain_panels = _domain_panels(user, unit_id, roles)
    return board


def _domain_panels(user: User, unit_id: int | None, roles: frozenset[Role]) -> list[Panel]:
    """Panels from every domain whose services define `dashboard_panels(user, unit_id, roles)`, and from
    the providers added with `add_panel_provider`."""
    from qms.domains import domain_modules

    providers = [services.dashboard_panels for services in domain_modules("services")
                 if hasattr(services, "dashboard_panels") and services.__name__ != __name__]
    providers += current_app.extensions.get(PROVIDERS, [])
    panels = [panel for provider in providers for panel in provider(user, unit_id, roles)]
    return sorted(panels, key=lambda panel: panel.order)


def _members_by_role() -> dict[str, int]:
    rows = db.session.execute(select(Membership.role, func.count()).group_by(Membership.role))
    return {role: count for role, count in rows}


def _users_without_mfa() -> list[User]:
    return list(db.session.scalars(
        select(User).where(User.mfa_enrolled_at.is_(None), User.active.is_(True)).order_by(User.username)))


def _failed_logins_since(*, hours: int) -> int:
    # Counted for the unit's own users only: the login log is not unit-scoped by itself.
    unit_users = select(User.id)
    stmt = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.succeeded.is_(False), LoginAttempt.at > utcnow() - timedelta(hours=hours),
        LoginAttempt.user_id.in_(unit_users))
    return db.session.scalar(stmt) or 0


@dataclass(frozen=True)
class LanguageState:
    language: Language
    catalogue: CatalogueState
    requirements: tuple[Coverage, ...] = ()  # the requirement catalogues' titles and topics in this language


def language_states() -> list[LanguageState]:
    """Each shipped language with how much of it is translated and whether a native speaker reviewed it,
    the interface and the requirement catalogues alike."""
    content = coverage()
    return [LanguageState(language, catalogue_state(language.code),
                          tuple(c for c in content if c.locale == language.code)) for language in LANGUAGES]
