from __future__ import annotations

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from werkzeug.utils import secure_filename

from qms.auth.permissions import requires
from qms.documents import bp, diff, services
from qms.documents.forms import ApproveForm, CommentForm, DraftForm, SopEditForm, SopForm
from qms.documents.markdown import render_markdown
from qms.documents.models import Revision, RevisionState, Sop
from qms.documents.services import APPROVERS, AUTHORS, MANAGERS, READERS, DocumentError
from qms.extensions import db
from qms.transactions import mark_failed


def _sop(sop_id: int) -> Sop:
    sop = db.session.get(Sop, sop_id)
    if sop is None:
        abort(404, description="No such SOP in this unit.")
    return sop


def _revision(revision_id: int) -> Revision:
    rev = db.session.get(Revision, revision_id)
    if rev is None:
        abort(404, description="No such revision in this unit.")
    return rev


def _owner_choices(form: SopForm) -> None:
    from wtforms.fields.choices import SelectChoice

    form.owner_id.choices = [SelectChoice(0, "(nobody)")] + [
        SelectChoice(u.id, u.full_name) for u in services.unit_members(g.qms_unit_id)]


@bp.get("/documents")
@requires(READERS)
def register():  # type: ignore[no-untyped-def]
    services.apply_due_revisions()
    try:
        flt = services.RegisterFilter.from_args(request.args)
    except DocumentError as error:
        abort(400, description=str(error))
    return render_template("documents/register.html", sops=services.register(flt), flt=flt,
                           disciplines=services.DISCIPLINES, statuses=[s.value for s in services.SopStatus])


@bp.get("/documents/export.csv")
@requires(READERS)
def export():  # type: ignore[no-untyped-def]
    try:
        flt = services.RegisterFilter.from_args(request.args)
    except DocumentError as error:
        abort(400, description=str(error))
    return Response(services.master_list_csv(services.register(flt)), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=sop-master-list.csv"})


@bp.route("/documents/new", methods=["GET", "POST"])
@requires(MANAGERS, MANAGERS)
def new():  # type: ignore[no-untyped-def]
    form = SopForm()
    _owner_choices(form)
    if form.validate_on_submit():
        try:
            sop = services.create_sop(unit_id=g.qms_unit_id, code=form.code.data, title=form.title.data,
                                      discipline=form.discipline.data, author=g.qms_user,
                                      owner_id=form.owner_id.data or None, review_months=form.review_months.data,
                                      applies_to=form.applies_to.data or [])
        except DocumentError as error:
            form.code.errors.append(str(error))  # type: ignore[attr-defined]
        else:
            flash(f"{sop.code} is in the register. Write its first draft.", "success")
            return redirect(url_for("documents.edit_draft", revision_id=sop.revisions[0].id))
    status = 400 if request.method == "POST" else 200
    if status >= 400:
        mark_failed()
    return render_template("documents/sop_form.html", form=form, sop=None), status


@bp.get("/documents/<int:sop_id>")
@requires(READERS)
def sop_detail(sop_id: int):  # type: ignore[no-untyped-def]
    sop = _sop(sop_id)
    services.apply_due_revisions(sop_id=sop.id)
    current = services.current_revision(sop)
    outstanding = next((row for row in services.outstanding(sop.unit_id) if row.sop.id == sop.id), None)
    return render_template("documents/sop.html", sop=sop, current=current, pending=services.open_revision(sop),
                           body=render_markdown(current.content_markdown or "") if current else None,
                           outstanding=outstanding, history=list(services.history(sop)), review_form=CommentForm(),
                           acknowledged=current is not None and services.has_acknowledged(current, g.qms_user))


@bp.route("/documents/<int:sop_id>/edit", methods=["GET", "POST"])
@requires(MANAGERS, MANAGERS)
def edit_sop(sop_id: int):  # type: ignore[no-untyped-def]
    sop = _sop(sop_id)
    form = SopEditForm(obj=sop)
    _owner_choices(form)
    if form.validate_on_submit():
        try:
            services.update_sop(sop, title=form.title.data, discipline=form.discipline.data,
                                owner_id=form.owner_id.data or None, review_months=form.review_months.data,
                                applies_to=form.applies_to.data or [])
        except DocumentError as error:
            form.title.errors.append(str(error))  # type: ignore[attr-defined]
        else:
            return redirect(url_for("documents.sop_detail", sop_id=sop.id))
    status = 400 if request.method == "POST" else 200
    if status >= 400:
        mark_failed()
    return render_template("documents/sop_form.html", form=form, sop=sop), status


def _act(action, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Run a service action; a refusal answers its status with the reason."""
    try:
        return action(*args, **kwargs)
    except DocumentError as error:
        abort(error.status, description=str(error))


@bp.post("/documents/<int:sop_id>/revisions")
@requires(READERS, AUTHORS)
def new_revision(sop_id: int):  # type: ignore[no-untyped-def]
    rev = _act(services.new_draft, _sop(sop_id), g.qms_user)
    return redirect(url_for("documents.edit_draft", revision_id=rev.id))


@bp.post("/documents/<int:sop_id>/review")
@requires(READERS, MANAGERS)
def review(sop_id: int):  # type: ignore[no-untyped-def]
    sop = _sop(sop_id)
    _act(services.record_review, sop, g.qms_user, CommentForm().comment.data or "")
    flash("Review recorded: the next review date moved on.", "success")
    return redirect(url_for("documents.sop_detail", sop_id=sop.id))


@bp.post("/documents/<int:sop_id>/retire")
@requires(READERS, MANAGERS)
def retire(sop_id: int):  # type: ignore[no-untyped-def]
    sop = _sop(sop_id)
    _act(services.retire, sop, g.qms_user, CommentForm().comment.data or "")
    flash(f"{sop.code} is retired.", "success")
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
        abort(400, description="This SOP has only one revision: there is nothing to compare.")
    a, b = old.content_markdown or "", new.content_markdown or ""
    return render_template("documents/diff.html", sop=sop, old=old, new=new, mode=mode,
                           rows=diff.side_by_side(a, b) if mode == "side" else None,
                           lines=diff.inline(a, b) if mode == "inline" else None)


@bp.get("/documents/acknowledgements")
@requires(READERS)
def acknowledgements():  # type: ignore[no-untyped-def]
    services.apply_due_revisions()
    rows = services.outstanding(g.qms_unit_id)
    return render_template("documents/acknowledgements.html", rows=rows, people=services.by_person(rows))


def _revision_page(rev: Revision, *, status: int = 200, error: str = "", approve_form: ApproveForm | None = None):  # type: ignore[no-untyped-def]
    if status >= 400:
        mark_failed()  # a refused action leaves nothing behind
    return render_template("documents/revision.html", rev=rev, sop=rev.sop, state=rev.state, error=error,
                           body=render_markdown(rev.content_markdown or "") if not rev.is_file else None,
                           approve_form=approve_form or ApproveForm(formdata=None),
                           reject_form=CommentForm(formdata=None),
                           acknowledged=services.has_acknowledged(rev, g.qms_user), States=RevisionState), status


@bp.get("/documents/revisions/<int:revision_id>")
@requires(READERS)
def revision(revision_id: int):  # type: ignore[no-untyped-def]
    rev = _revision(revision_id)
    services.apply_due_revisions(sop_id=rev.sop_id)
    return _revision_page(rev)


@bp.route("/documents/revisions/<int:revision_id>/edit", methods=["GET", "POST"])
@requires(AUTHORS, AUTHORS)
def edit_draft(revision_id: int):  # type: ignore[no-untyped-def]
    rev = _revision(revision_id)
    form = DraftForm(data={"content_markdown": rev.content_markdown or "", "change_summary": rev.change_summary,
                           "requirement_ids": " ".join(rev.requirement_ids or [])})
    if form.validate_on_submit():
        try:
            _save_draft(rev, form)
        except DocumentError as error:
            form.upload.errors.append(str(error))  # type: ignore[attr-defined]
        else:
            flash("Draft saved.", "success")
            return redirect(url_for("documents.revision", revision_id=rev.id))
    elif request.method == "GET" and rev.state != RevisionState.DRAFT:
        abort(409, description=f"Revision {rev.number} was submitted: it can no longer be changed.")
    status = 400 if request.method == "POST" else 200
    if status >= 400:
        mark_failed()
    return render_template("documents/draft_form.html", form=form, rev=rev, sop=rev.sop), status


def _save_draft(rev: Revision, form: DraftForm) -> None:
    upload = form.upload.data
    ids = services.parse_requirement_ids(form.requirement_ids.data or "")
    if upload is not None and getattr(upload, "filename", ""):
        services.attach_file(rev, g.qms_user, upload.read(services.MAX_UPLOAD_BYTES + 1), upload.filename)
        services.edit_draft(rev, g.qms_user, change_summary=form.change_summary.data or "", requirement_ids=ids)
    else:
        services.edit_draft(rev, g.qms_user, content_markdown=form.content_markdown.data or "",
                            change_summary=form.change_summary.data or "", requirement_ids=ids)


@bp.post("/documents/revisions/<int:revision_id>/submit")
@requires(READERS, AUTHORS)
def submit(revision_id: int):  # type: ignore[no-untyped-def]
    rev = _revision(revision_id)
    _act(services.submit, rev, g.qms_user)
    flash(f"Revision {rev.number} is submitted for review.", "success")
    return redirect(url_for("documents.revision", revision_id=rev.id))


@bp.post("/documents/revisions/<int:revision_id>/approve")
@requires(READERS, APPROVERS)
def approve(revision_id: int):  # type: ignore[no-untyped-def]
    rev = _revision(revision_id)
    form = ApproveForm()
    if not form.validate():
        return _revision_page(rev, status=400, error="Enter your password to sign.", approve_form=form)
    try:
        services.approve(rev, g.qms_user, password=form.password.data, otp=form.otp.data or "",
                         effective_on=form.effective_on.data, meaning=form.meaning.data)
    except DocumentError as error:
        return _revision_page(rev, status=error.status, error=str(error), approve_form=form)
    flash(f"Revision {rev.number} approved and signed.", "success")
    return redirect(url_for("documents.revision", revision_id=rev.id))


@bp.post("/documents/revisions/<int:revision_id>/reject")
@requires(READERS, APPROVERS)
def reject(revision_id: int):  # type: ignore[no-untyped-def]
    rev = _revision(revision_id)
    draft = _act(services.reject, rev, g.qms_user, CommentForm().comment.data or "")
    flash(f"Revision {rev.number} rejected; revision {draft.number} is the author's new draft.", "success")
    return redirect(url_for("documents.revision", revision_id=rev.id))


@bp.post("/documents/revisions/<int:revision_id>/acknowledge")
@requires(READERS, READERS)
def acknowledge(revision_id: int):  # type: ignore[no-untyped-def]
    rev = _revision(revision_id)
    _act(services.acknowledge, rev, g.qms_user)
    flash(f"You acknowledged {rev.sop.code} revision {rev.number}.", "success")
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
    data = _act(services.revision_file, rev)
    name = secure_filename(rev.filename) or "document"
    return Response(data, mimetype=rev.media_type, headers={"Content-Disposition": f"attachment; filename={name}"})
