"""Pages of the people domain: the unit's people, personnel files, scopes and the competence matrix.

Refusals are raised by the services and answered by the one handler in `qms.errors` (a flashed
message and the page again); no view catches them.
"""
from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.utils import secure_filename
from wtforms.fields.choices import SelectChoice

from qms.auth.permissions import requires
from qms.db import today
from qms.errors import NotFound, check_form, page_again
from qms.extensions import db
from qms.people import bp, matrix_export, services
from qms.people.forms import (
    AUTHORISATION_LABELS,
    DECLARATION_LABELS,
    MODE_LABELS,
    OUTCOME_LABELS,
    WITNESS_LABELS,
    ChangeForm,
    DeclarationForm,
    FileForm,
    GateModeForm,
    GrantForm,
    ScopeEditForm,
    ScopeForm,
    SupervisedForm,
    TrainingForm,
    WitnessingForm,
)
from qms.people.models import TrainingRecord
from qms.people.services import MANAGERS, READERS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.app_context_processor
def _labels() -> dict[str, object]:
    return {"standing_labels": matrix_export.STANDING_LABELS}


def _is_manager() -> bool:
    return bool(g.qms_roles & MANAGERS)


def _download(data: bytes, name: str, mimetype: str) -> Response:
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f"attachment; filename={secure_filename(name) or 'file'}"})


# --- the unit's people and the gate setting -------------------------------------------------------

@bp.get("/people")
@requires(READERS)
def index():  # type: ignore[no-untyped-def]
    unit_id = g.qms_unit_id
    grid = services.matrix(unit_id)
    files = {f.user_id: f for f in services.personnel_files(unit_id)}
    manager = _is_manager()
    return render_template("people/index.html", grid=grid, files=files, manager=manager,
                           mode=services.gate_mode(unit_id), mode_labels=MODE_LABELS,
                           gate_form=GateModeForm(mode=services.gate_mode(unit_id).value),
                           warnings=services.gate_warnings(unit_id) if manager else [])


@bp.post("/people/gate")
@requires(READERS, MANAGERS)
@page_again("people.index")
def set_gate():  # type: ignore[no-untyped-def]
    form = GateModeForm()
    check_form(form)
    setting = services.set_gate_mode(g.qms_unit_id, g.qms_user, mode=form.mode.data, reason=form.reason.data)
    flash(_("The gate is now set to %(mode)s.", mode=MODE_LABELS[services.GateMode(setting.mode)]), "success")
    return redirect(url_for("people.index"))


# --- scopes ---------------------------------------------------------------------------------------

@bp.get("/people/scopes")
@requires(READERS)
def scope_list():  # type: ignore[no-untyped-def]
    found = services.scopes(g.qms_unit_id)
    edit_forms = {s.id: ScopeEditForm(prefix=f"s{s.id}", obj=s) for s in found}
    return render_template("people/scopes.html", scopes=found, form=ScopeForm(), edit_forms=edit_forms,
                           manager=_is_manager())


@bp.post("/people/scopes")
@requires(READERS, MANAGERS)
@page_again("people.scope_list")
def add_scope():  # type: ignore[no-untyped-def]
    form = ScopeForm()
    check_form(form)
    found = services.add_scope(g.qms_unit_id, g.qms_user, code=form.code.data, name=form.name.data,
                               **_requirements(form))
    flash(_("Scope %(name)s added.", name=found.name), "success")
    return redirect(url_for("people.scope_list"))


@bp.post("/people/scopes/<int:scope_id>")
@requires(READERS, MANAGERS)
@page_again("people.scope_list")
def update_scope(scope_id: int):  # type: ignore[no-untyped-def]
    found = services.scope(scope_id, g.qms_unit_id)
    form = ScopeEditForm(prefix=f"s{found.id}")
    check_form(form)
    services.update_scope(found, g.qms_user, reason=form.reason.data, **_requirements(form))
    flash(_("The requirements of %(name)s are changed.", name=_(found.name)), "success")
    return redirect(url_for("people.scope_list"))


def _requirements(form: ScopeForm | ScopeEditForm) -> dict[str, object]:
    return {"requirements": form.requirements.data or "", "education": form.education.data or "",
            "min_training_hours": float(form.min_training_hours.data or 0),
            "min_supervised": form.min_supervised.data or 0, "min_witnessed": form.min_witnessed.data or 0,
            "witness_interval_months": form.witness_interval_months.data or 0}


# --- the competence matrix --------------------------------------------------------------------------

@bp.get("/people/matrix")
@requires(READERS)
def matrix():  # type: ignore[no-untyped-def]
    grid = services.matrix(g.qms_unit_id)
    return render_template("people/matrix.html", grid=grid, rows=matrix_export.rows_shown(grid))


@bp.get("/people/matrix.pdf")
@requires(READERS)
def matrix_pdf():  # type: ignore[no-untyped-def]
    data = matrix_export.matrix_pdf(g.qms_unit_id, g.qms_user)
    return _download(data, f"competence-matrix-{today()}.pdf", "application/pdf")


@bp.get("/people/matrix.xlsx")
@requires(READERS)
def matrix_xlsx():  # type: ignore[no-untyped-def]
    data = matrix_export.matrix_xlsx(services.matrix(g.qms_unit_id))
    return _download(data, f"competence-matrix-{today()}.xlsx", XLSX)


# --- the personnel file ------------------------------------------------------------------------------

def _people_choices(*forms: SupervisedForm | WitnessingForm | TrainingForm) -> None:
    unit_id = g.qms_unit_id
    scopes = [SelectChoice(s.id, _(s.name)) for s in services.scopes(unit_id)]
    people = [SelectChoice(p.id, p.full_name) for p in services.members(unit_id)]
    for form in forms:
        form.scope_id.choices = ([SelectChoice("", _("(none)"))] if isinstance(form, TrainingForm) else []) + scopes
        for name in ("supervisor_id", "observer_id"):
            if hasattr(form, name):
                getattr(form, name).choices = people


@bp.get("/people/<int:user_id>")
@requires(READERS)
def person(user_id: int):  # type: ignore[no-untyped-def]
    from qms.documents.services import acknowledgements_of

    unit_id = g.qms_unit_id
    found = services.person_file(user_id, unit_id)
    manager = _is_manager()
    training, supervised, witnessing = (TrainingForm(prefix="t"), SupervisedForm(prefix="s"),
                                        WitnessingForm(prefix="w"))
    _people_choices(training, supervised, witnessing)
    file_form = FileForm(prefix="f", obj=found.file)
    competence = {s.id: services.competence(found.person.id, s) for s, *_rest in found.authorisations} \
        if manager else {}
    return render_template(
        "people/person.html", pf=found, manager=manager, me=found.person.id == g.qms_user.id,
        competence=competence, acknowledgements=acknowledgements_of(found.person.id, unit_id),
        file_form=file_form, training_form=training, supervised_form=supervised, witnessing_form=witnessing,
        grant_form=GrantForm(prefix="g", valid_from=today()), change_form=ChangeForm(prefix="c"),
        declaration_form=DeclarationForm(prefix="d", year=today().year), outcome_labels=OUTCOME_LABELS,
        witness_labels=WITNESS_LABELS, declaration_labels=DECLARATION_LABELS,
        authorisation_labels=AUTHORISATION_LABELS)


@bp.post("/people/<int:user_id>/file")
@requires(READERS, MANAGERS)
@page_again("people.person")
def update_file(user_id: int):  # type: ignore[no-untyped-def]
    form = FileForm(prefix="f")
    check_form(form)
    services.update_file(g.qms_unit_id, g.qms_user, user_id=user_id, job_title=form.job_title.data or "",
                         education=form.education.data or "", qualifications=form.qualifications.data or "")
    flash(_("Personnel file saved."), "success")
    return redirect(url_for("people.person", user_id=user_id))


@bp.post("/people/<int:user_id>/training")
@requires(READERS, MANAGERS)
@page_again("people.person")
def record_training(user_id: int):  # type: ignore[no-untyped-def]
    form = TrainingForm(prefix="t")
    _people_choices(form)
    check_form(form)
    upload = form.certificate.data
    certificate = upload.read(services.MAX_CERTIFICATE_BYTES + 1) if getattr(upload, "filename", "") else None
    services.record_training(g.qms_unit_id, g.qms_user, user_id=user_id, training=services.TrainingInput(
        course=form.course.data, provider=form.provider.data or "", started_on=form.started_on.data,
        completed_on=form.completed_on.data, outcome=form.outcome.data, hours=float(form.hours.data or 0),
        scope_id=form.scope_id.data or None, notes=form.notes.data or "", certificate=certificate,
        certificate_name=getattr(upload, "filename", "") or ""))
    flash(_("Training recorded."), "success")
    return redirect(url_for("people.person", user_id=user_id))


@bp.get("/people/<int:user_id>/training/<int:training_id>/certificate")
@requires(READERS)
def certificate(user_id: int, training_id: int):  # type: ignore[no-untyped-def]
    from qms.storage import object_store

    record = db.session.get(TrainingRecord, training_id)
    if record is None or record.user_id != user_id or record.unit_id != g.qms_unit_id or not record.certificate_sha256:
        raise NotFound(_("No such training certificate in this unit."))
    data = object_store().get(record.certificate_sha256)
    mimetype = ("application/pdf" if data.startswith(b"%PDF-") else
                "image/png" if data.startswith(b"\x89PNG") else "image/jpeg")
    return _download(data, record.certificate_name or "certificate", mimetype)


@bp.post("/people/<int:user_id>/supervised")
@requires(READERS, READERS)
@page_again("people.person")
def record_supervised(user_id: int):  # type: ignore[no-untyped-def]
    form = SupervisedForm(prefix="s")
    _people_choices(form)
    check_form(form)
    services.record_supervised(g.qms_unit_id, g.qms_user, user_id=user_id, scope_id=form.scope_id.data,
                               supervisor_id=form.supervisor_id.data, performed_on=form.performed_on.data,
                               reference=form.reference.data, notes=form.notes.data or "")
    flash(_("Supervised work recorded."), "success")
    return redirect(url_for("people.person", user_id=user_id))


@bp.post("/people/<int:user_id>/witnessing")
@requires(READERS, READERS)
@page_again("people.person")
def record_witnessing(user_id: int):  # type: ignore[no-untyped-def]
    form = WitnessingForm(prefix="w")
    _people_choices(form)
    check_form(form)
    services.record_witnessing(g.qms_unit_id, g.qms_user, user_id=user_id, scope_id=form.scope_id.data,
                               observer_id=form.observer_id.data, observed_on=form.observed_on.data,
                               reference=form.reference.data, outcome=form.outcome.data, notes=form.notes.data or "")
    flash(_("Witnessed examination recorded."), "success")
    return redirect(url_for("people.person", user_id=user_id))


@bp.post("/people/declarations")
@requires(READERS, READERS)
@page_again("people.index")
def declare():  # type: ignore[no-untyped-def]
    """The signed-in person's own declaration (nobody declares for someone else)."""
    form = DeclarationForm(prefix="d")
    check_form(form)
    services.declare(g.qms_unit_id, g.qms_user, kind=form.kind.data, year=form.year.data,
                     interests=form.interests.data or "")
    flash(_("Declaration signed."), "success")
    return redirect(url_for("people.person", user_id=g.qms_user.id))


# --- authorisations -------------------------------------------------------------------------------

@bp.post("/people/<int:user_id>/grant")
@requires(READERS, MANAGERS)
@page_again("people.person")
def grant(user_id: int):  # type: ignore[no-untyped-def]
    form = GrantForm(prefix="g")
    check_form(form)
    event = services.grant(g.qms_unit_id, g.qms_user, user_id=user_id, scope_id=form.scope_id.data,
                           signature=_signature(form, form.meaning.data), valid_from=form.valid_from.data,
                           valid_until=form.valid_until.data, justification=form.justification.data or "")
    flash(_("Authorisation for %(scope)s granted and signed.", scope=_(event.scope.name)), "success")
    return redirect(url_for("people.person", user_id=user_id))


def _signature(form: GrantForm | ChangeForm, meaning: str | None = None) -> services.Signature:
    return services.Signature(password=form.password.data, otp=form.otp.data or "",
                              meaning=meaning or services.DEFAULT_MEANING)


# The signature's meaning is stored as signed (English, like the other signature meanings).
CHANGES = {"suspend": (services.suspend, _l("Authorisation suspended."), "Suspended for the reason stated."),
           "reinstate": (services.reinstate, _l("Authorisation reinstated."), "Reinstated for the reason stated."),
           "withdraw": (services.withdraw, _l("Authorisation withdrawn."), "Withdrawn for the reason stated.")}


@bp.post("/people/<int:user_id>/authorisations/<int:scope_id>/<any(suspend, reinstate, withdraw):change>")
@requires(READERS, MANAGERS)
@page_again("people.person")
def change(user_id: int, scope_id: int, change: str):  # type: ignore[no-untyped-def]
    form = ChangeForm(prefix="c")
    check_form(form)
    act, done, meaning = CHANGES[change]
    act(g.qms_unit_id, g.qms_user, user_id=user_id, scope_id=scope_id, reason=form.reason.data,
        signature=_signature(form, meaning))
    flash(str(done), "success")
    return redirect(url_for("people.person", user_id=user_id))
