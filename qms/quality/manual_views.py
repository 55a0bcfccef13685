"""The quality-manual pages: policy statements by clause, the generated PDF, issuing it for approval."""
from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from qms.auth.models import Role, Unit
from qms.auth.permissions import requires
from qms.errors import check_form, page_again
from qms.extensions import db
from qms.i18n.requirements import catalogues
from qms.quality import bp, manual
from qms.quality.manual_forms import IssueForm, PolicyForm

READERS = frozenset(Role) - {Role.ADMIN}


def _policy_form() -> PolicyForm:
    form = PolicyForm()
    form.clause.choices = [SelectChoice(r.id, f"{r.clause} {r.title}")
                                   for r in catalogues()[manual.CATALOGUE].requirements]
    return form


@bp.get("/quality/manual")
@requires(READERS, manual.MANAGERS)
def manual_page():  # type: ignore[no-untyped-def]
    unit = db.session.get(Unit, g.qms_unit_id)
    return render_template("quality/manual.html", manual=manual.build(unit), form=_policy_form(),
                           issue_form=IssueForm())


@bp.post("/quality/manual/policies")
@requires(READERS, manual.MANAGERS)
@page_again("quality.manual_page")
def manual_policy():  # type: ignore[no-untyped-def]
    form = _policy_form()
    check_form(form)
    manual.write_policy(g.qms_unit_id, g.qms_user, requirement_id=form.clause.data,
                        statement=form.statement.data)
    flash(_("Policy statement saved; earlier versions are kept."), "success")
    return redirect(url_for("quality.manual_page"))


@bp.get("/quality/manual.pdf")
@requires(READERS)
def manual_download():  # type: ignore[no-untyped-def]
    unit = db.session.get(Unit, g.qms_unit_id)
    return Response(manual.manual_pdf(unit), mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename={manual.MANUAL_CODE}-draft.pdf"})


@bp.post("/quality/manual/issue")
@requires(READERS, manual.MANAGERS)
@page_again("quality.manual_page")
def manual_issue():  # type: ignore[no-untyped-def]
    form = IssueForm()
    check_form(form)
    revision = manual.issue_revision(db.session.get(Unit, g.qms_unit_id), g.qms_user,
                                     change_summary=form.change_summary.data or "")
    flash(_("The manual is a draft revision of %(code)s: submit it for review and approval.",
            code=manual.MANUAL_CODE), "success")
    return redirect(url_for("documents.revision", revision_id=revision.id))
