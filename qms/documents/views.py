"""The document-control pages. Refusals are raised by the services and answered by the one
handler in `qms.errors` (a flashed message and the page again); no view catches them."""
from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.utils import secure_filename

from qms.auth.permissions import requires
from qms.documents import bp, diff, services
from qms.documents.forms import ApproveForm, CommentForm, DraftForm, SopEditForm, SopForm
from qms.documents.markdown import render_markdown
from qms.documents.models import Revision, RevisionState, Sop, discipline_label
from qms.documents.services import APPROVERS, AUTHORS, MANAGERS, READERS
from qms.errors import InvalidInput, NotFound, StateConflict, check_form, page_again
from qms.extensions import db


def _sop(sop_id: int) -> Sop:
    sop = db.session.get(Sop, sop_id)
    if sop is None:
        raise NotFound(_("No such SOP in this unit."))
    return sop


def _revision(revision_id: int) -> Revision:
    rev = db.session.get(Revision, revision_id)
    if rev is None:
        raise NotFound(_("No such revision in this unit."))
    return rev


def _owner_choices(form: SopForm) -> SopForm:
    from wtforms.fields.choices import SelectChoice

    form.owner_id.choices = [SelectChoice("", _("(nobody)"))] + [
        SelectChoice(u.id, u.full_name) for u in services.unit_members(g.qms_unit_id)]
    return form


@bp.get("/documents")
@requires(READERS)
def register():  # type: ignore[no-untyped-def]
    flt = services.RegisterFilter.from_args(request.args)
    return render_template("documents/register.html", sops=services.register(flt), flt=flt,
                           disciplines=[(d, discipline_label(d)) for d in services.DISCIPLINES],
                           statuses=list(services.SopStatus))


@bp.get("/documents/export.csv")
@requires(READERS)
def export():  # type: ignore[no-untyped-def]
    flt = services.RegisterFilter.from_args(request.args)
    return Response(services.master_list_csv(services.register(flt)), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=sop-master-list.csv"})


@bp.get("/documents/new")
@requires(MANAGERS, MANAGERS)
def new():  # type: ignore[no-untyped-def]
    return render_template("documents/sop_form.html", form=_owner_choices(SopForm()), sop=None)


@bp.post("/documents/new")
@requires(MANAGERS, MANAGERS)
def create():  # type: ignore[no-untyped-def]
    form = _owner_choices(SopForm())
    check_form(form)
    sop = services.create_sop(unit_id=g.qms_unit_id, code=form.code.data, title=form.title.data,
                              discipline=form.discipline.data, author=g.qms_user,
                              owner_id=form.owner_id.data or None, review_months=form.review_months.data,
                              applies_to=form.applies_to.data or [])
    flash(_("%(code)s is in the register. Write its first draft.", code=sop.code), "success")
    return redirect(url_for("documents.edit_draft", revision_id=sop.revisions[0].id))


@bp.get("/documents/<int:sop_id>")
@requires(READERS)
def sop_detail(sop_id: int):  # type: ignore[no-untyped-def]
    sop = _sop(sop_id)
    current = services.current_revision(sop)
    outstanding = next((row for row in services.outstanding(sop.unit_id) if row.sop.id == sop.id), None)
    return render_template("documents/sop.html", sop=sop, current=current, pending=services.open_revision(sop),
                           body=render_markdown(current.content_markdown or "") if current else None,
                           outstanding=outstanding, history=list(services.history(sop)), review_form=CommentForm(),
                           acknowledged=current is not None and services.has_acknowledged(current, g.qms_user))


@bp.get("/documents/<int:sop_id>/edit")
@requires(MANAGERS, MANAGERS)
def edit_sop(sop_id: int):  # type: ignore[no-untyped-def]
    sop = _sop(sop_id)
    return render_template("documents/sop_form.html", form=_owner_choices(SopEditForm(obj=sop)), sop=sop)


@bp.post("/documents/<int:sop_id>/edit")
@requires(MANAGERS, MANAGERS)
def update_sop(sop_id: int):  # type: ignore[no-untyped-def]
    sop = _sop(sop_id)
    form = _owner_choices(SopEditForm(obj=sop))
    check_form(form)
    services.update_sop(sop, title=form.title.data, discipline=form.discipline.data,
                        owner_id=form.owner_id.data or None, review_months=form.review_months.data,
                        applies_to=form.applies_to.data or [])
    return redirect(url_for("documents.sop_detail", sop_id=sop.id))


@bp.post("/documents/<int:sop_id>/revisions")
@requires(READERS, AUTHORS)
@page_again("documents.sop_detail")
def new_revision(sop_id: int):  # type: ignore[no-untyped-def]
    rev = services.new_draft(_sop(sop_id), g.qms_user)
    return redirect(url_for("documents.edit_draft", revision_id=rev.id))


@bp.post("/documents/<int:sop_id>/review")
@requires(READERS, MANAGERS)
@page_again("documents.sop_detail")
def review(sop_id: int):  # type: ignore[no-untyped-def]
    sop = _sop(sop_id)
    services.record_review(sop, g.qms_user, CommentForm().comment.data or "")
    flash(_("Review recorded: the next review date moved on."), "success")
    return redirect(url_for("documents.sop_detail", sop_id=sop.id))


@bp.post("/documents/<int:sop_id>/retire")
@requires(READERS, MANAGERS)
@page_again("documents.sop_detail")
def retire(sop_id: int):  # type: ignore[no-untyped-def]
    sop = _sop(sop_id)
    services.retire(sop, g.qms_user, CommentForm().comment.data or "")
    flash(_("%(code)s is retired.", code=sop.code), "success")
    return redirect(url_for("documents.sop_detail", sop_id=sop.id))


@bp.get("/documents/<int:sop_id>/diff")
@requires(READERS)
def compare(sop_id: int):  # type: ignore[no-untyped-def]
    sop = _sop(sop_id)
    numbers = {rev.number: rev for rev in sop.revisions}
    default_old = sop.revisions[-2] if len(sop.revisions) > 1 else None
    old = numbers.get(request.args.get("from", type=int) or 0) or default_old
    new = numbers.get(request.args.get("to", type=int) or 0) or sop.revisions[-1]
    mode = "inline" if request.args.get("mode") == "inline" else "side"
    if old is None or new is None:
        raise InvalidInput(_("This SOP has only one revision: there is nothing to compare."))
    a, b = old.content_markdown or "", new.content_markdown or ""
    return render_template("documents/diff.html", sop=sop, old=old, new=new, mode=mode,
                           rows=diff.side_by_side(a, b) if mode == "side" else None,
                           lines=diff.inline(a, b) if mode == "inline" else None)


@bp.get("/documents/acknowledgements")
@requires(READERS)
def acknowledgements():  # type: ignore[no-untyped-def]
    rows = services.outstanding(g.qms_unit_id)
    return render_template("documents/acknowledgements.html", rows=rows, people=services.by_person(rows))


@bp.get("/documents/revisions/<int:revision_id>")
@requires(READERS)
def revision(revision_id: int):  # type: ignore[no-untyped-def]
    """The revision page; shown again, with what was typed, when an action on it is refused."""
    rev = _revision(revision_id)
    return render_template("documents/revision.html", rev=rev, sop=rev.sop, state=rev.state,
                           body=render_markdown(rev.content_markdown or "") if not rev.is_file else None,
                           approve_form=ApproveForm(), reject_form=CommentForm(),
                           acknowledged=services.has_acknowledged(rev, g.qms_user), States=RevisionState)


@bp.get("/documents/revisions/<int:revision_id>/edit")
@requires(AUTHORS, AUTHORS)
def edit_draft(revision_id: int):  # type: ignore[no-untyped-def]
    rev = _revision(revision_id)
    if rev.state != RevisionState.DRAFT:
        raise StateConflict(_("Revision %(number)s was submitted: it can no longer be changed.", number=rev.number))
    form = DraftForm(data={"content_markdown": rev.content_markdown or "", "change_summary": rev.change_summary,
                           "requirement_ids": " ".join(rev.requirement_ids or [])})
    return render_template("documents/draft_form.html", form=form, rev=rev, sop=rev.sop)


@bp.post("/documents/revisions/<int:revision_id>/edit")
@requires(AUTHORS, AUTHORS)
def save_draft(revision_id: int):  # type: ignore[no-untyped-def]
    rev = _revision(revision_id)
    form = DraftForm()
    check_form(form)
    upload = form.upload.data
    ids = services.parse_requirement_ids(form.requirement_ids.data or "")
    if upload is not None and getattr(upload, "filename", ""):
        services.attach_file(rev, g.qms_user, upload.read(services.MAX_UPLOAD_BYTES + 1), upload.filename,
                             change_summary=form.change_summary.data or "", requirement_ids=ids)
    else:
        services.edit_draft(rev, g.qms_user, content_markdown=form.content_markdown.data or "",
                            change_summary=form.change_summary.data or "", requirement_ids=ids)
    flash(_("Draft saved."), "success")
    return redirect(url_for("documents.revision", revision_id=rev.id))


@bp.post("/documents/revisions/<int:revision_id>/submit")
@requires(READERS, AUTHORS)
@page_again("documents.revision")
def submit(revision_id: int):  # type: ignore[no-untyped-def]
    rev = services.submit(_revision(revision_id), g.qms_user)
    flash(_("Revision %(number)s is submitted for review.", number=rev.number), "success")
    return redirect(url_for("documents.revision", revision_id=rev.id))


@bp.post("/documents/revisions/<int:revision_id>/approve")
@requires(READERS, APPROVERS)
@page_again("documents.revision")
def approve(revision_id: int):  # type: ignore[no-untyped-def]
    rev = _revision(revision_id)
    form = ApproveForm()
    check_form(form)
    services.approve(rev, g.qms_user, password=form.password.data, otp=form.otp.data or "",
                     effective_on=form.effective_on.data, meaning=form.meaning.data)
    flash(_("Revision %(number)s approved and signed.", number=rev.number), "success")
    return redirect(url_for("documents.revision", revision_id=rev.id))


@bp.post("/documents/revisions/<int:revision_id>/reject")
@requires(READERS, APPROVERS)
@page_again("documents.revision")
def reject(revision_id: int):  # type: ignore[no-untyped-def]
    rev = _revision(revision_id)
    draft = services.reject(rev, g.qms_user, CommentForm().comment.data or "")
    flash(_("Revision %(number)s rejected; revision %(draft)s is the author's new draft.",
            number=rev.number, draft=draft.number), "success")
    return redirect(url_for("documents.revision", revision_id=rev.id))


@bp.post("/documents/revisions/<int:revision_id>/acknowledge")
@requires(READERS, READERS)
@page_again("documents.revision")
def acknowledge(revision_id: int):  # type: ignore[no-untyped-def]
    rev = _revision(revision_id)
    services.acknowledge(rev, g.qms_user)
    flash(_("You acknowledged %(code)s revision %(number)s.", code=rev.sop.code, number=rev.number), "success")
    return redirect(url_for("documents.sop_detail", sop_id=rev.sop_id))


@bp.get("/documents/revisions/<int:revision_id>/controlled-copy.pdf")
@requires(READERS)
def controlled_copy(revision_id: int):  # type: ignore[no-untyped-def]
    rev = _revision(revision_id)
    pdf = services.controlled_copy_pdf(rev, g.qms_user)
    name = secure_filename(f"{rev.sop.code}-rev{rev.number}.pdf")
    return Response(pdf, mimetype="application/pdf", headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.get("/documents/revisions/<int:revision_id>/file")
@requires(READERS)
def revision_file(revision_id: int):  # type: ignore[no-untyped-def]
    rev = _revision(revision_id)
    data = services.revision_file(rev)
    name = secure_filename(rev.filename) or "document"
    return Response(data, mimetype=rev.media_type, headers={"Content-Disposition": f"attachment; filename={name}"})
