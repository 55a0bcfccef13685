from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from qms.auth.permissions import requires
from qms.equipment import services as equipment
from qms.errors import InvalidInput, check_form, page_again
from qms.evidence import bp, custody, documents, photos, services
from qms.evidence.forms import (
    CancelForm,
    CaseForm,
    DestroyForm,
    EventForm,
    ItemForm,
    LocationForm,
    OfferForm,
    PartyForm,
    PhotoForm,
    SampleForm,
)
from qms.evidence.models import (
    ITEM_STATE_LABELS,
    ITEM_TYPE_LABELS,
    LOCATION_KIND_LABELS,
    Case,
    Item,
    ItemPhoto,
)
from qms.records import record_or_404
from qms.storage import ObjectCorrupted, ObjectMissing

READ, WRITE = services.READERS, services.ACTORS


@bp.context_processor
def _labels() -> dict[str, Any]:
    """The readers' words for the codes the evidence pages show (item types, custody states, location kinds)."""
    return {"item_type_labels": {k.value: v for k, v in ITEM_TYPE_LABELS.items()},
            "state_labels": {k.value: v for k, v in ITEM_STATE_LABELS.items()},
            "location_kinds": {k.value: v for k, v in LOCATION_KIND_LABELS.items()}}


def _item_page(item: Item) -> str:
    """The item page; after a refused action the handler renders it again with the submitted values."""
    code = request.args.get("v")
    forms = {"offer": OfferForm(prefix="offer"), "accept": PartyForm(prefix="accept"),
             "handover": PartyForm(prefix="handover"), "cancel": CancelForm(prefix="cancel"),
             "event": EventForm(prefix="event"), "destroy": DestroyForm(prefix="destroy"),
             "sample": SampleForm(prefix="sample"), "photo": PhotoForm(prefix="photo")}
    others = [u for u in services.custodians(item.unit_id) if u.id != g.qms_user.id]
    forms["offer"].receiver.choices = [SelectChoice(str(u.id), f"{u.full_name} ({u.username})") for u in others]
    forms["event"].location_id.choices = [SelectChoice("", "—")] + _location_choices()
    forms["event"].equipment_ids.choices = _instrument_choices(item.unit_id)
    events = services.events_of(item)
    users = services.users_by_id(events)
    current = services.custody_of(item, events, users)
    if current.pending_to is not None and not forms["accept"].username.data:
        forms["accept"].username.data = current.pending_to.username
    return render_template("evidence/item.html", item=item, custody=current, events=events, users=users,
                           photos=services.photos_of(item), sub_items=services.sub_items(item), forms=forms,
                           label_check=None if code is None else code == item.label_code,
                           can_act=bool(g.qms_roles & WRITE))


def _location_choices() -> list[SelectChoice]:
    return [SelectChoice(str(loc.id), loc.path) for loc in services.locations()]


def _instrument_choices(unit_id: int) -> list[SelectChoice]:
    """The unit's instruments in service, for an examination to name the ones it used."""
    current = equipment.statuses(unit_id)
    return [SelectChoice(str(found.id), found.label) for found in equipment.register(unit_id)
            if current[found.id].status.usable]


def _done(item: Item, message: str) -> Response:
    flash(message, "success")
    return redirect(url_for("evidence.item", item_id=item.id))


def _posted(item_id: int, form_class: type, prefix: str) -> tuple[Item, Any]:
    """The item named by the URL and the action's form, checked; a form with errors is refused (400)."""
    record = record_or_404(Item, item_id, "item")
    form = form_class(prefix=prefix)
    if prefix == "event":
        form.location_id.choices = _location_choices()
    check_form(form)
    return record, form


# --- cases ----------------------------------------------------------------------------------------------

@bp.get("/evidence")
@requires(READ)
def cases():  # type: ignore[no-untyped-def]
    return render_template("evidence/cases.html", cases=services.cases(), counts=services.counts(),
                           can_act=bool(g.qms_roles & WRITE))


@bp.get("/evidence/cases/new")
@requires(WRITE)
def case_new():  # type: ignore[no-untyped-def]
    return render_template("evidence/case_new.html", form=CaseForm())


@bp.post("/evidence/cases/new")
@requires(WRITE)
def case_create():  # type: ignore[no-untyped-def]
    form = CaseForm()
    check_form(form)
    case = custody.register_case(unit_id=g.qms_unit_id, actor=g.qms_user, case_number=form.case_number.data,
                                 offence_type=form.offence_type.data, opened_on=form.opened_on.data,
                                 offence_date=form.offence_date.data, summary=form.summary.data or "")
    flash(_("Case %(number)s registered.", number=case.case_number), "success")
    return redirect(url_for("evidence.case", case_id=case.id))


@bp.get("/evidence/cases/<int:case_id>")
@requires(READ)
def case(case_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(Case, case_id, "case")
    return render_template("evidence/case.html", case=record, items=services.items_of(record),
                           can_act=bool(g.qms_roles & WRITE))


@bp.get("/evidence/cases/<int:case_id>/items/new")
@requires(WRITE)
def item_new(case_id: int):  # type: ignore[no-untyped-def]
    return render_template("evidence/item_new.html", form=ItemForm(), case=record_or_404(Case, case_id, "case"))


@bp.post("/evidence/cases/<int:case_id>/items/new")
@requires(WRITE)
def item_create(case_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(Case, case_id, "case")
    form = ItemForm()
    check_form(form)
    item = custody.register_item(
        record, actor=g.qms_user, exhibit_number=form.exhibit_number.data, item_type=form.item_type.data,
        description=form.description.data, collected_place=form.collected_place.data or "",
        when=form.when(), seal_number=form.seal_number.data or "", packaging=form.packaging.data or "",
        make=form.make.data or "", model=form.model.data or "", serial_number=form.serial_number.data or "",
        calibre=form.calibre.data or "")
    flash(_("Exhibit %(number)s registered; you hold it.", number=item.exhibit_number), "success")
    return redirect(url_for("evidence.case", case_id=record.id))


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
@page_again("evidence.item")
@requires(READ, WRITE)
def offer(item_id: int):  # type: ignore[no-untyped-def]
    record, form = _posted(item_id, OfferForm, "offer")
    receiver = services.custodian(record.unit_id, str(form.receiver.data or ""))
    if receiver is None:
        message = _("Choose a CSI officer or examiner of this unit.")
        raise InvalidInput(message, errors={"receiver": [message]})
    custody.offer_transfer(record, actor=g.qms_user, receiver=receiver, when=form.when(), notes=form.notes.data or "")
    return _done(record, _("Transfer offered to %(name)s; you keep custody until they accept.",
                           name=receiver.full_name))


@bp.post("/evidence/items/<int:item_id>/accept")
@page_again("evidence.item")
@requires(READ, WRITE)
def accept(item_id: int):  # type: ignore[no-untyped-def]
    record, form = _posted(item_id, PartyForm, "accept")
    custody.accept_transfer(record, username=form.username.data, password=form.password.data, recorded_by=g.qms_user,
                            when=form.when(), notes=form.notes.data or "")
    return _done(record, _("Transfer accepted: custody has moved to the receiver."))


@bp.post("/evidence/items/<int:item_id>/handover")
@page_again("evidence.item")
@requires(READ, WRITE)
def handover(item_id: int):  # type: ignore[no-untyped-def]
    record, form = _posted(item_id, PartyForm, "handover")
    custody.transfer_custody(record, actor=g.qms_user, receiver_username=form.username.data,
                             receiver_password=form.password.data, when=form.when(), notes=form.notes.data or "")
    return _done(record, _("Handed over: the receiver confirmed with their password."))


@bp.post("/evidence/items/<int:item_id>/destroy")
@page_again("evidence.item")
@requires(READ, WRITE)
def destroy(item_id: int):  # type: ignore[no-untyped-def]
    record, form = _posted(item_id, DestroyForm, "destroy")
    custody.destroy(record, actor=g.qms_user, witness_username=form.username.data,
                    witness_password=form.password.data, method=form.method.data,
                    disposed=form.disposal.data == "disposed", when=form.when(), notes=form.notes.data or "")
    return _done(record, _("Destruction recorded with its witness."))


@bp.post("/evidence/items/<int:item_id>/cancel")
@page_again("evidence.item")
@requires(READ, WRITE)
def cancel(item_id: int):  # type: ignore[no-untyped-def]
    record, form = _posted(item_id, CancelForm, "cancel")
    custody.cancel_transfer(record, actor=g.qms_user, when=form.when(), notes=form.notes.data or "")
    return _done(record, _("Transfer cancelled."))


@bp.post("/evidence/items/<int:item_id>/events")
@page_again("evidence.item")
@requires(READ, WRITE)
def record_event(item_id: int):  # type: ignore[no-untyped-def]
    record, form = _posted(item_id, EventForm, "event")
    event = custody.record(record, actor=g.qms_user, kind=form.kind.data, when=form.when(),
                           notes=form.notes.data or "", location_id=form.location_id.data,
                           seal_number=form.seal_number.data or "", recipient=form.recipient.data or "",
                           wrong_seq=form.wrong_seq.data, equipment_ids=form.equipment_ids.data or ())
    return _done(record, _("Recorded: %(kind)s (event #%(seq)s).", kind=event.kind_label.lower(), seq=event.seq))


@bp.post("/evidence/items/<int:item_id>/sample")
@page_again("evidence.item")
@requires(READ, WRITE)
def sample(item_id: int):  # type: ignore[no-untyped-def]
    record, form = _posted(item_id, SampleForm, "sample")
    child = custody.sample(record, actor=g.qms_user, exhibit_number=form.exhibit_number.data,
                           item_type=form.item_type.data, description=form.description.data, when=form.when(),
                           notes=form.notes.data or "")
    return _done(record, _("Sub-item %(number)s registered; you hold it.", number=child.exhibit_number))


@bp.post("/evidence/items/<int:item_id>/photos")
@page_again("evidence.item")
@requires(READ, WRITE)
def photo_upload(item_id: int):  # type: ignore[no-untyped-def]
    record, form = _posted(item_id, PhotoForm, "photo")
    stream = form.photo.data
    photos.add_photo(record, actor=g.qms_user, data=stream.read(photos.MAX_PHOTO_BYTES + 1),
                     filename=stream.filename or "", caption=form.caption.data or "")
    return _done(record, _("Photograph stored; its SHA-256 is in the custody chain."))


@bp.get("/evidence/photos/<int:photo_id>")
@requires(READ)
def photo(photo_id: int):  # type: ignore[no-untyped-def]
    record = record_or_404(ItemPhoto, photo_id, "photograph")
    try:
        data = photos.original(record)
    except (ObjectMissing, ObjectCorrupted) as error:  # storage faults, not refusals: answered 409 as HTTP
        abort(409, description=_("The original cannot be served: %(reason)s. Report it to the quality manager.",
                                 reason=str(error)))
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

def _location_form() -> LocationForm:
    form = LocationForm()
    form.parent_id.choices = [SelectChoice("", _("— (a building)"))] + _location_choices()
    return form


@bp.get("/evidence/locations")
@requires(READ, WRITE)
def locations():  # type: ignore[no-untyped-def]
    return render_template("evidence/locations.html", form=_location_form(), places=services.locations(),
                           can_act=bool(g.qms_roles & WRITE))


@bp.post("/evidence/locations")
@requires(READ, WRITE)
def location_add():  # type: ignore[no-untyped-def]
    form = _location_form()
    check_form(form)
    location = custody.add_location(unit_id=g.qms_unit_id, kind=form.kind.data, name=form.name.data,
                                    parent=services.location(form.parent_id.data) if form.parent_id.data else None)
    flash(_("Location %(path)s added.", path=location.path), "success")
    return redirect(url_for("evidence.locations"))


@bp.get("/evidence/verify")
@requires(READ)
def verify_page():  # type: ignore[no-untyped-def]
    report = services.verify_unit()
    return render_template("evidence/verify.html", report=report)
