"""What every template can use: the current user and unit, navigation, formatting filters."""
from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g, url_for

from qms.auth.models import ROLE_LABELS, Role


def _nav() -> list[dict[str, Any]]:
    """Navigation by domain (each domain's `NAV`), showing only what the user's roles may open."""
    from qms.domains import domain_modules

    roles = g.get("qms_roles", frozenset())
    items = [item for package in domain_modules("") for item in getattr(package, "NAV", ())]
    return [{"label": label, "endpoint": ep, "url": url_for(ep)} for label, ep, allowed in items if roles & allowed]


def _context() -> dict[str, Any]:
    from qms.auth.services import units_of

    user = g.get("qms_user")
    return {
        "qms_user": user,
        "qms_roles": sorted(g.get("qms_roles", frozenset())),
        "qms_unit_id": g.get("qms_unit_id"),
        "qms_units": units_of(user) if user is not None else [],
        "nav": _nav() if user is not None else [],
        "demo_mode": current_app.config.get("DEMO", False),
        "mfa_required_setting": current_app.config.get("MFA_REQUIRED", True),
        "role_labels": ROLE_LABELS,
    }


def role_label(value: str) -> str:
    try:
        return Role(value).label
    except ValueError:
        return value


def trail_change(event: Any) -> str:
    """An audit-trail row in one line (record and what happened), with translated names."""
    from qms.trail.services import summary

    return summary(event)


def init_app(app: Flask) -> None:
    app.context_processor(_context)
    app.add_template_filter(role_label, "role_label")
    app.add_template_filter(trail_change, "trail_change")
    app.jinja_env.globals["app_version"] = __import__("qms").__version__
