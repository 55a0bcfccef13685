from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from wtforms.fields.choices import SelectChoice

from qms.evidence import bp, custody, documents, photos, services
from qms.evidence.custody import CustodyConflict, CustodyError
from qms.evidence.forms import (CancelForm, CaseForm, DestroyForm, EventForm, ItemForm, LocationForm, OfferForm,
                                PartyForm, PhotoForm, SampleForm)
from qms.evidence.models import Case, EventKind, Item, ItemPhoto, StorageLocation
from qms.extensions import db
from qms.auth.permissions import requires
from qms.storage import ObjectCorrupted, ObjectMissing
from qms.transactions import mark_failed
from qms.records import record_or_404

READ, WRITE = services.READERS, services.ACTORS




def _attempt(action: Callable[[], Any], item: Item) -> Any:
    """Run a custody action; a refusal re-renders the item page with the reason and nothing recorded."""
    try:
        return action()
    except CustodyConflict as error:
        db.session.rollback()  # the failed flush left the session unusable for the error page
        abort(409, description=str(error))
    except (custody.AuthenticationFailed, custody.Throttled) as error:
        # Not rolled back: the failed attempt is kept for the login throttle. No event was added.
        flash(str(error), "error")
        return _item_page(item, status=error.status)
    except CustodyError as error:
        mark_failed()
        flash(str(error), "error")
        return _item_page(item, status=error.status)


def _item_page(item: Item, *, status: int = 200, **forms: Any) -> tuple[str, int]:
    if status >= 400:
        db.session.expire_all()  # show what is stored, not what the refused action had prepared
    item = record_or_404(Item, item.id, "item")
    code = request.args.get("v")
    all_forms = {"offer": OfferForm(prefix="offer"), "accept": PartyForm(prefix="accept"),
                 "handover": PartyForm(prefix="handover"), "cancel": CancelForm(prefix="cancel"),
                 "event": EventForm(prefix="event"), "destroy": DestroyForm(prefix="destroy"),
                 "sample": SampleForm(prefix="sample"), "photo": PhotoForm(prefix="photo")} | forms
    others = [u for u in services.custodians(item.unit_id) if u.id != g.qms_user.id]
    all_forms["offer"].receiver.choices = [SelectChoice(str(u.id), f"{u.full_name} ({u.username})") for u in others]
    all_forms["event"].location_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(loc.id), loc.path) for loc in services.locations()]
    if item.pending_to is not None and not all_forms["accept"].username.data:
        all_forms["accept"].username.data = item.pending_to.username
    events = services.events_of(item)
    return render_template("evidence/item.html", item=item, events=events, users=services.users_by_id(events),
                           photos=services.photos_of(item), sub_items=services.sub_items(item), forms=all_forms,
                           label_check=None if code is None else code == item.label_code,
                           can_act=bool(g.qms_roles & WRITE)), status


def _invalid(item: Item, form: Any, name: str) -> tuple[str, int]:
    mark_failed()
    flash("Some fields need attention: " + "; ".join(
        f"{getattr(form, field).label.text}: {' '.join(errors)}" for field, errors in form.errors.items()), "error")
    return _item_page(item, status=400, **{name: form})


def _done(item: Item, message: str) -> Response:
    flash(message, "success")
    return redirect(url_for("evidence.item", item_id=item.id))


# --- cases ----------------------------------------------------------------------------------------------

@bp.get("/evidence")
@requires(READ)
def cases():  # type: ignore[no-untyped-def]
    return render_template("evidence/cases.html", cases=services.cases(), counts=services.counts(),
                           can_act=bool(g.qms_roles & WRITE))


@bp.route("/evidence/cases/new", methods=["GET", "POST"])
@requires(WRITE)
def case_new():  # type: ignore[no-untyped-def]
    form = CaseForm()
    if form.validate_on_submit():
        try:
            case = custody.register_case(unit_id=g.qms_unit_id, actor=g.qms_user, case_number=form.case_number.data,
                                         offence_type=form.offence_type.data, opened_on=form.opened_on.data,
                                         offence_date=form.offence_date.data, summary=form.summary.data or "")
        except CustodyError as error:
            form.case_number.errors.append(str(error))
        else:
            flash(f"Case {case.case_number} registered.", "success")
            return redirect(url_for("evidence.case", case_id=case.id))
    return render_template("evidence/case_new.html", form=form), 400 if form.errors else 200


@bp.get("/evidence/cases/<int:case_id>")
@requires(READ)
def case(case_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(Case, case_id, "case")
    return render_template("evidence/case.html", case=record, items=services.items_of(record),
                           can_act=bool(g.qms_roles & WRITE))


@bp.route("/evidence/cases/<int:case_id>/items/new", methods=["GET", "POST"])
@requires(WRITE)
def item_new(case_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(Case, case_id, "case")
    form = ItemForm()
    if form.validate_on_submit():
        try:
            item = custody.register_item(
                record, actor=g.qms_user, exhibit_number=form.exhibit_number.data, item_type=form.item_type.data,
                description=form.description.data, collected_place=form.collected_place.data or "",
                when=form.when(), seal_number=form.seal_number.data or "", packaging=form.packaging.data or "",
                make=form.make.data or "", model=form.model.data or "", serial_number=form.serial_number.data or "",
                calibre=form.calibre.data or "")
        except CustodyError as error:
            mark_failed()
            form.exhibit_number.errors.append(str(error))
        else:
            flash(f"Exhibit {item.exhibit_number} registered; you hold it.", "success")
            return redirect(url_for("evidence.case", case_id=record.id))
    return render_template("evidence/item_new.html", form=form, case=record), 400 if form.errors else 200


@bp.get("/evidence/cases/<int:case_id>/labels.pdf")
@requires(READ)
def labels(case_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(Case, case_id, "case")
    pdf = documents.labels_pdf(record, services.items_of(record))
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f"inline; filename=labels-case-{record.id}.pdf"})


# --- items ----------------------------------------------------------------------------------------------

@bp.get("/evidence/items/<int:item_id>")
@requires(READ)
def item(item_id: int):  # type: ignore[no-untyped-def]
    return _item_page(record_or_404(Item, item_id, "item"))


@bp.post("/evidence/items/<int:item_id>/offer")
@requires(READ, WRITE)
def offer(item_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(Item, item_id, "item")
    form = OfferForm(prefix="offer")
    receiver = services.custodians(record.unit_id)
    chosen = next((u for u in receiver if str(u.id) == (form.receiver.data or "")), None)
    if not form.validate_on_submit() or chosen is None:
        if chosen is None:
            form.receiver.errors = ["Choose a CSI officer or examiner of this unit."]
        return _invalid(record, form, "offer")
    outcome = _attempt(lambda: custody.offer_transfer(record, actor=g.qms_user, receiver=chosen, when=form.when(),
                                                      notes=form.notes.data or ""), record)
    if isinstance(outcome, tuple):  # the refusal page
        return outcome
    return _done(record, f"Transfer offered to {chosen.full_name}; you keep custody until they accept.")


def _party_action(item_id: int, prefix: str, action: Callable[[Item, PartyForm], Any], message: str,
                  form_class: type = PartyForm):  # type: ignore[no-untyped-def]
    record = record_or_404(Item, item_id, "item")
    form = form_class(prefix=prefix)
    if not form.validate_on_submit():
        return _invalid(record, form, prefix)
    outcome = _attempt(lambda: action(record, form), record)
    if isinstance(outcome, tuple):  # the refusal page
        return outcome
    return _done(record, message)


@bp.post("/evidence/items/<int:item_id>/accept")
@requires(READ, WRITE)
def accept(item_id: int):  # type: ignore[no-untyped-def]
    return _party_action(item_id, "accept", lambda item, form: custody.accept_transfer(
        item, username=form.username.data, password=form.password.data, recorded_by=g.qms_user, when=form.when(),
        notes=form.notes.data or ""), "Transfer accepted: custody has moved to the receiver.")


@bp.post("/evidence/items/<int:item_id>/handover")
@requires(READ, WRITE)
def handover(item_id: int):  # type: ignore[no-untyped-def]
    return _party_action(item_id, "handover", lambda item, form: custody.transfer_custody(
        item, actor=g.qms_user, receiver_username=form.username.data, receiver_password=form.password.data,
        when=form.when(), notes=form.notes.data or ""), "Handed over: the receiver confirmed with their password.")


@bp.post("/evidence/items/<int:item_id>/destroy")
@requires(READ, WRITE)
def destroy(item_id: int):  # type: ignore[no-untyped-def]
    return _party_action(item_id, "destroy", lambda item, form: custody.destroy(
        item, actor=g.qms_user, witness_username=form.username.data, witness_password=form.password.data,
        method=form.method.data, disposed=form.disposal.data == "disposed", when=form.when(),
        notes=form.notes.data or ""), "Destruction recorded with its witness.", DestroyForm)


def _simple(item_id: int, prefix: str, form_class: type, action: Callable[[Item, Any], Any],
            message: str):  # type: ignore[no-untyped-def]
    record = record_or_404(Item, item_id, "item")
    form = form_class(prefix=prefix)
    if prefix == "event":
        form.location_id.choices = [SelectChoice(str(loc.id), loc.path) for loc in services.locations()]
    if not form.validate_on_submit():
        return _invalid(record, form, prefix)
    outcome = _attempt(lambda: action(record, form), record)
    if isinstance(outcome, tuple):
        return outcome
    return _done(record, message if isinstance(message, str) else message(outcome))


@bp.post("/evidence/items/<int:item_id>/cancel")
@requires(READ, WRITE)
def cancel(item_id: int):  # type: ignore[no-untyped-def]
    return _simple(item_id, "cancel", CancelForm, lambda item, form: custody.cancel_transfer(
        item, actor=g.qms_user, when=form.when(), notes=form.notes.data or ""), "Transfer cancelled.")


def _record_event(item: Item, form: EventForm) -> Any:
    kind, when, notes, actor = EventKind(form.kind.data), form.when(), form.notes.data or "", g.qms_user
    if kind == EventKind.STORED:
        location = db.session.get(StorageLocation, int(form.location_id.data)) if (
            form.location_id.data or "").isdigit() else None
        if location is None:
            raise CustodyError("Choose the storage location.")
        return custody.store(item, actor=actor, location=location, when=when, notes=notes)
    if kind == EventKind.REMOVED_FROM_STORAGE:
        return custody.remove_from_storage(item, actor=actor, when=when, notes=notes)
    if kind == EventKind.EXAMINED:
        return custody.examine(item, actor=actor, notes=notes, when=when)
    if kind in (EventKind.SEALED, EventKind.RESEALED):
        act = custody.seal if kind == EventKind.SEALED else custody.reseal
        return act(item, actor=actor, seal_number=form.seal_number.data or "", when=when, notes=notes)
    if kind == EventKind.SEAL_BROKEN:
        return custody.break_seal(item, actor=actor, notes=notes, when=when)
    if kind == EventKind.RETURNED_TO_OWNER:
        return custody.return_to_owner(item, actor=actor, recipient=form.recipient.data or "", when=when, notes=notes)
    if form.wrong_seq.data is None:
        raise CustodyError("Give the number of the event being corrected.")
    return custody.correct(item, actor=actor, wrong_seq=form.wrong_seq.data, correction=notes, when=when)


@bp.post("/evidence/items/<int:item_id>/events")
@requires(READ, WRITE)
def record_event(item_id: int):  # type: ignore[no-untyped-def]
    return _simple(item_id, "event", EventForm, _record_event,
                   lambda event: f"Recorded: {event.kind_label.lower()} (event #{event.seq}).")


@bp.post("/evidence/items/<int:item_id>/sample")
@requires(READ, WRITE)
def sample(item_id: int):  # type: ignore[no-untyped-def]
    return _simple(item_id, "sample", SampleForm, lambda item, form: custody.sample(
        item, actor=g.qms_user, exhibit_number=form.exhibit_number.data, item_type=form.item_type.data,
        description=form.description.data, when=form.when(), notes=form.notes.data or ""),
        lambda child: f"Sub-item {child.exhibit_number} registered; you hold it.")


@bp.post("/evidence/items/<int:item_id>/photos")
@requires(READ, WRITE)
def photo_upload(item_id: int):  # type: ignore[no-untyped-def]
    def upload(item: Item, form: PhotoForm) -> Any:
        stream = form.photo.data
        data = stream.read(photos.MAX_PHOTO_BYTES + 1)
        return photos.add_photo(item, actor=g.qms_user, data=data, filename=stream.filename or "",
                                caption=form.caption.data or "")
    return _simple(item_id, "photo", PhotoForm, upload, "Photograph stored; its SHA-256 is in the custody chain.")


@bp.get("/evidence/photos/<int:photo_id>")
@requires(READ)
def photo(photo_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(ItemPhoto, photo_id, "photograph")
    try:
        data = photos.original(record)
    except (ObjectMissing, ObjectCorrupted) as error:
        abort(409, description=f"The original cannot be served: {error}. Report it to the quality manager.")
    name = f"item-{record.item_id}-photo-{record.id}.{photos.EXTENSIONS.get(record.media_type, 'bin')}"
    return Response(data, mimetype=record.media_type, headers={
        "Content-Disposition": f"attachment; filename={name}", "X-Content-SHA256": record.sha256})


@bp.get("/evidence/items/<int:item_id>/custody.pdf")
@requires(READ)
def custody_report(item_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(Item, item_id, "item")
    pdf = documents.custody_report_pdf(record, user=g.qms_user)
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f"attachment; filename=custody-{record.case.case_number.replace('/', '-')}-"
                               f"{record.exhibit_number}.pdf"})


# --- storage and verification ------------------------------------------------------------------------

@bp.route("/evidence/locations", methods=["GET", "POST"])
@requires(READ, WRITE)
def locations():  # type: ignore[no-untyped-def]
    form = LocationForm()
    places = services.locations()
    form.parent_id.choices = [SelectChoice("", "— (a building)")] + [SelectChoice(str(p.id), p.path) for p in places]
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            parent = db.session.get(StorageLocation, int(form.parent_id.data)) if (
                form.parent_id.data or "").isdigit() else None
            try:
                location = custody.add_location(unit_id=g.qms_unit_id, kind=form.kind.data, name=form.name.data,
                                                parent=parent)
            except CustodyError as error:
                form.name.errors.append(str(error))
            else:
                flash(f"Location {location.path} added.", "success")
                return redirect(url_for("evidence.locations"))
        mark_failed()
        status = 400
    return render_template("evidence/locations.html", form=form, places=places,
                           can_act=bool(g.qms_roles & WRITE)), status


@bp.get("/evidence/verify")
@requires(READ)
def verify_page():  # type: ignore[no-untyped-def]
    report = services.verify_unit()
    return render_template("evidence/verify.html", report=report)
