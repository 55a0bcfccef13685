"""The daily digest: what waits for each person, gathered from the domains' services, and its sending.

One e-mail per person (active, with an e-mail address, digest not turned off) listing, per unit they
belong to: SOPs to read, corrective actions they own that are due soon or overdue, calibrations due
within 30 days of instruments they are responsible for, their authorisations expiring and witnessing
due, and periodic reviews due of SOPs they own. Someone with nothing waiting gets no e-mail.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import LazyString, force_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from qms.audits import services as audits
from qms.audits.services import OPEN_ACTION_STATES
from qms.auth.models import Membership, Role, Unit, User
from qms.db import today, utcnow
from qms.documents import services as documents
from qms.equipment import services as equipment
from qms.extensions import db
from qms.notify.models import NotificationPreference
from qms.people import services as people
from qms.people.state import Standing
from qms.quality import complaints

ACTION_DAYS = 14  # corrective actions due within this many days are listed, with the overdue ones
CALIBRATION_DAYS = 30
REVIEW_DAYS = 30


# --- the preference ---------------------------------------------------------------------------

def digest_wanted(user_id: int) -> bool:
    """Whether the person receives the digest (on unless they turned it off)."""
    row = db.session.scalar(select(NotificationPreference).where(NotificationPreference.user_id == user_id))
    return row is None or row.digest


def set_digest(user: User, wanted: bool) -> NotificationPreference:
    """The person turns their own digest on or off (on the trail)."""
    row = db.session.scalar(select(NotificationPreference).where(NotificationPreference.user_id == user.id))
    if row is None:
        row = NotificationPreference(user_id=user.id, digest=wanted)
        db.session.add(row)
    elif row.digest != wanted:
        row.digest, row.changed_at = wanted, utcnow()
    db.session.flush()
    return row


# --- what waits for whom ----------------------------------------------------------------------

@dataclass(frozen=True)
class Item:
    """One line of the digest: what, and by when (overdue when the day is past).

    Texts are lazy: each e-mail renders them in its recipient's language."""

    text: str | LazyString
    due: date | None = None

    @property
    def overdue(self) -> bool:
        return self.due is not None and self.due < today()


@dataclass
class UnitDigest:
    unit: Unit
    sections: dict[str | LazyString, list[Item]] = field(default_factory=lambda: defaultdict(list))

    @property
    def count(self) -> int:
        return sum(len(items) for items in self.sections.values())


@dataclass
class Digest:
    """One person's e-mail: their units, each with its sections of items."""

    person: User
    units: list[UnitDigest] = field(default_factory=list)

    @property
    def count(self) -> int:
        return sum(unit.count for unit in self.units)


def unit_digests(unit: Unit) -> dict[int, UnitDigest]:
    """Per member of the unit (by user id), what waits for them in it."""
    found: dict[int, UnitDigest] = defaultdict(lambda: UnitDigest(unit))
    _sops_to_read(unit.id, found)
    _actions(unit.id, found)
    _calibrations(unit.id, found)
    _authorisations(unit.id, found)
    _reviews(unit.id, found)
    _complaints(unit.id, found)
    return found


def _sops_to_read(unit_id: int, found: dict[int, UnitDigest]) -> None:
    section = _l("SOPs to read and acknowledge")
    for row in documents.outstanding(unit_id):
        for person in row.users:
            found[person.id].sections[section].append(
                Item(_l("%(code)s %(title)s, revision %(number)s", code=row.sop.code, title=row.sop.title,
                       number=row.revision.number)))


def _actions(unit_id: int, found: dict[int, UnitDigest]) -> None:
    section = _l("Corrective actions due")
    horizon = today() + timedelta(days=ACTION_DAYS)
    for action in audits.actions():
        if action.unit_id == unit_id and action.status in OPEN_ACTION_STATES and action.due_on <= horizon:
            found[action.owner_id].sections[section].append(
                Item(_l("Action %(id)d: %(title)s", id=action.id, title=action.title), action.due_on))


def _calibrations(unit_id: int, found: dict[int, UnitDigest]) -> None:
    section = _l("Calibrations due within %(days)d days", days=CALIBRATION_DAYS)
    for instrument, derived in equipment.due_within(unit_id, days=CALIBRATION_DAYS):
        if instrument.responsible_id is not None:
            found[instrument.responsible_id].sections[section].append(
                Item(_l("%(identifier)s %(name)s", identifier=instrument.identifier, name=instrument.name),
                     derived.calibrated_until))


def _authorisations(unit_id: int, found: dict[int, UnitDigest]) -> None:
    expiring, witnessing = _l("Authorisations expiring"), _l("Witnessed examinations due")
    grid = people.matrix(unit_id)
    for person in grid.people:
        for scope in grid.scopes:
            if grid.cells[(person.id, scope.id)] is Standing.EXPIRING:
                found[person.id].sections[expiring].append(
                    Item(LazyString(people.scope_name, scope), grid.until[(person.id, scope.id)]))
        for scope in grid.witnessing_due.get(person.id, ()):
            found[person.id].sections[witnessing].append(Item(LazyString(people.scope_name, scope)))


def _reviews(unit_id: int, found: dict[int, UnitDigest]) -> None:
    section = _l("SOP reviews due")
    overdue, upcoming = documents.reviews_due(unit_id, within_days=REVIEW_DAYS)
    for sop in [*overdue, *upcoming]:
        if sop.owner_id is not None:
            found[sop.owner_id].sections[section].append(
                Item(_l("%(code)s %(title)s", code=sop.code, title=sop.title), sop.next_review_on))


def _complaints(unit_id: int, found: dict[int, UnitDigest]) -> None:
    """To each quality manager of the unit (they decide, or name who does): complaints awaiting a decision."""
    rows = complaints.awaiting_decision(unit_id)
    if not rows:
        return
    section = _l("Complaints and appeals awaiting a decision")
    deciders = db.session.scalars(select(Membership.user_id).where(
        Membership.unit_id == unit_id, Membership.role == Role.QUALITY_MANAGER.value))
    for user_id in deciders:
        for record, _progress in rows:
            found[user_id].sections[section].append(
                Item(_l("%(number)s from %(complainant)s", number=record.number, complainant=record.complainant),
                     record.decide_by))


def digests(units: Iterable[Unit] | None = None) -> list[Digest]:
    """Every person's digest with at least one item, by name (everyone, whatever their preference)."""
    people_by_id: dict[int, Digest] = {}
    for unit in units if units is not None else db.session.scalars(select(Unit).order_by(Unit.code)):
        members = {person.id: person for person in people.members(unit.id)}
        for user_id, unit_digest in unit_digests(unit).items():
            person = members.get(user_id)
            if person is not None and unit_digest.count:
                people_by_id.setdefault(user_id, Digest(person)).units.append(unit_digest)
    return sorted(people_by_id.values(), key=lambda digest: (digest.person.full_name, digest.person.id))


# --- sending ----------------------------------------------------------------------------------

class NotConfigured(RuntimeError):
    """No SMTP host is set (QMS_SMTP_HOST): the dashboard alone shows the reminders."""


class Unreachable(RuntimeError):
    """The SMTP server refused the connection or the login: nothing was sent."""


@dataclass
class Outcome:
    sent: int = 0
    turned_off: int = 0
    no_address: int = 0
    inactive: int = 0
    failed: list[str] = field(default_factory=list)


def mail_settings(config: Any) -> dict[str, Any]:
    """Flask-Mail's settings from the QMS_SMTP_* ones; NotConfigured without a host."""
    if not config.get("SMTP_HOST"):
        raise NotConfigured(_("No SMTP server is configured (QMS_SMTP_HOST): no e-mail was sent; "
                              "the dashboard shows everyone their reminders."))
    sender = config.get("MAIL_FROM") or config.get("SMTP_USER")
    if not sender:
        raise NotConfigured(_("No sender address is configured (QMS_MAIL_FROM): no e-mail was sent."))
    return {"MAIL_SERVER": config["SMTP_HOST"], "MAIL_PORT": int(config.get("SMTP_PORT") or 25),
            "MAIL_USERNAME": config.get("SMTP_USER") or None, "MAIL_PASSWORD": config.get("SMTP_PASSWORD") or None,
            "MAIL_USE_TLS": bool(config.get("SMTP_TLS")), "MAIL_USE_SSL": False,
            "MAIL_DEFAULT_SENDER": sender, "MAIL_SUPPRESS_SEND": False}


def _render(name: str, **context: Any) -> str:
    """A template of this package, rendered with the application's environment (its translations).

    The package is no blueprint, so its templates are found through an overlay of the app's loader.
    """
    from jinja2 import ChoiceLoader, FileSystemLoader

    app_env = current_app.jinja_env
    env = app_env.overlay(loader=ChoiceLoader([FileSystemLoader(str(Path(__file__).parent / "templates")),
                                               app_env.loader]))  # type: ignore[list-item]
    return env.get_template(name).render(**context)


def message_of(digest: Digest, sender: str) -> Any:
    """The e-mail in the language its reader sees the pages in (their own, else their unit's), else English."""
    from qms.i18n.selection import chosen_language

    units = [unit_digest.unit for unit_digest in digest.units]
    with force_locale(chosen_language(digest.person, units) or "en"):
        return _message(digest, sender)


def _message(digest: Digest, sender: str) -> Any:
    from flask_mail import Message

    subject = ngettext("CSI-QMS: %(num)d item waiting for you", "CSI-QMS: %(num)d items waiting for you",
                       digest.count)
    context = {"digest": digest, "today": today()}
    return Message(subject=subject, recipients=[digest.person.email], sender=sender,
                   body=_render("notify/digest.txt", **context), html=_render("notify/digest.html", **context))


def send_digests(progress: Any = None) -> Outcome:
    """Send today's digests over SMTP (one connection); NotConfigured when there is no server.

    `progress(done, total)` is called after each person, for the command's progress line.
    """
    from flask_mail import Connection, Mail

    settings = mail_settings(current_app.config)
    state = Mail().init_mail(settings)
    # Flask-Mail's messages read their settings from the app (extensions["mail"]): registered here, from
    # the QMS_SMTP_* settings, rather than at start-up, so the web processes never hold the password object.
    current_app.extensions["mail"] = state
    outcome, waiting = Outcome(), digests()
    if not waiting:
        return outcome
    connection = Connection(state)  # type: ignore[arg-type]
    try:
        connection.host = connection.configure_host()
    except OSError as error:  # smtplib's errors are OSErrors too
        raise Unreachable(_("The SMTP server %(host)s:%(port)s could not be used (%(error)s): no e-mail was sent.",
                            host=settings["MAIL_SERVER"], port=settings["MAIL_PORT"],
                            error=error.__class__.__name__)) from None
    try:
        for done, digest in enumerate(waiting, start=1):
            _send_one(connection, digest, settings["MAIL_DEFAULT_SENDER"], outcome)
            if progress is not None:
                progress(done, len(waiting))
    finally:
        connection.host.quit()
    return outcome


def _send_one(connection: Any, digest: Digest, sender: str, outcome: Outcome) -> None:
    person = digest.person
    if not person.active:
        outcome.inactive += 1
    elif not person.email:
        outcome.no_address += 1
    elif not digest_wanted(person.id):
        outcome.turned_off += 1
    else:
        try:
            connection.send(message_of(digest, sender))
            outcome.sent += 1
        except OSError as error:  # smtplib errors included: one refused address does not stop the rest
            outcome.failed.append(f"{person.username}: {error.__class__.__name__}")
