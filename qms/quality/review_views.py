"""Management review pages: the reviews, one review with its gathered inputs and decisions, signing, the minutes."""
from __future__ import annotations

from flask import Response, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from qms.auth.permissions import requires
from qms.errors import check_form, page_again
from qms.people import services as people
from qms.people.services import Signature
from qms.quality import bp, proficiency, review
from qms.quality.review_forms import ReviewDecisionForm, ManagementReviewForm, ReviewSignForm


def _decision_form() -> ReviewDecisionForm:
    form = ReviewDecisionForm()
    form.owner_id.choices = [SelectChoice("", _("(none)"))] + [
        SelectChoice(u.id, u.full_name) for u in people.members(g.qms_unit_id)]
    return form


@bp.get("/quality/reviews")
@requires(review.READERS)
def review_list():  # type: ignore[no-untyped-def]
    return render_template("quality/review_list.html", reviews=review.reviews(g.qms_unit_id),
                           form=ManagementReviewForm())


@bp.post("/quality/reviews")
@requires(review.READERS, review.MANAGERS)
@page_again("quality.review_list")
def review_new():  # type: ignore[no-untyped-def]
    form = ManagementReviewForm()
    check_form(form)
    found = review.create_review(g.qms_unit_id, g.qms_user, title=form.title.data,
                                 period_start=form.period_start.data, period_end=form.period_end.data,
                                 held_on=form.held_on.data, attendees=form.attendees.data or "")
    return redirect(url_for("quality.review_page", review_id=found.id))


@bp.get("/quality/reviews/<int:review_id>")
@requires(review.READERS)
def review_page(review_id: int):  # type: ignore[no-untyped-def]
    found = review.review(review_id, g.qms_unit_id)
    inputs = review.gather(found.unit_id, found.period_start, found.period_end)
    return render_template("quality/review_page.html", review=found, inputs=inputs, rows=review.table_rows(inputs),
                           decision_form=_decision_form(), sign_form=ReviewSignForm(),
                           kind_labels=review.KIND_LABELS,
                           outcome_labels=proficiency.OUTCOME_LABELS)


@bp.post("/quality/reviews/<int:review_id>/decisions")
@requires(review.READERS, review.MANAGERS)
@page_again("quality.review_page")
def review_decide(review_id: int):  # type: ignore[no-untyped-def]
    found = review.review(review_id, g.qms_unit_id)
    form = _decision_form()
    check_form(form)
    review.decide(found, g.qms_user, kind=form.kind.data, text_=form.text.data,
                  action=review.ActionPlan(form.action_title.data or "", form.owner_id.data, form.due_on.data))
    flash(_("Decision recorded."), "success")
    return redirect(url_for("quality.review_page", review_id=review_id))


@bp.post("/quality/reviews/<int:review_id>/sign")
@requires(review.READERS, review.MANAGERS)
@page_again("quality.review_page")
def review_sign(review_id: int):  # type: ignore[no-untyped-def]
    found = review.review(review_id, g.qms_unit_id)
    form = ReviewSignForm()
    check_form(form)
    review.sign(found, g.qms_user, Signature(password=form.password.data, otp=form.otp.data or "",
                                             meaning=form.meaning.data))
    flash(_("The minutes are signed."), "success")
    return redirect(url_for("quality.review_page", review_id=review_id))


@bp.get("/quality/reviews/<int:review_id>/minutes.pdf")
@requires(review.READERS)
def review_minutes(review_id: int):  # type: ignore[no-untyped-def]
    found = review.review(review_id, g.qms_unit_id)
    name = f"management-review-{found.period_start.isoformat()}-{found.period_end.isoformat()}.pdf"
    return Response(review.minutes_pdf(found), mimetype="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename={name}"})
