"""Images an examiner reviews a candidate with: the two aligned surfaces, the overlay, the CMC cell map.

Made once per candidate from the surfaces stored in the unit's index (the same ones the search
compared), kept as derived objects that name their source entry's processed surface. The job makes
them for its first candidates (`REVIEW_IMAGES_TOP`) from the comparisons its search already made,
after it has saved the ranking (the examiner sees the candidates first); an examiner asks for the
others (a POST, which compares the two surfaces again): a GET only shows what exists, so reading a
review never writes records.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from ballistics import index as bindex
from ballistics.cmc import Comparison, compare
from ballistics.review_images import cell_map, registered_overlay
from ballistics.registration import Alignment, warp
from ballistics.surface import Surface
from qms.comparisons.models import BallisticEntry, Candidate, DerivedKind, DerivedObject
from qms.comparisons.unit_index import open_unit_index, processed_surface
from qms.errors import StateConflict
from qms.extensions import db
from qms.storage import ObjectCorrupted, ObjectMissing, object_store

log = logging.getLogger(__name__)
# 2: every image at the query scan's own pixel grid, the overlay registered in one colour image, the cell
# map of both directions as the score counts them. Version 1 (no "images" parameter): 275-pixel
# figures, a three-panel overlay and a one-direction cell map; kept and shown as they were made.
IMAGES_VERSION = 2
VIEW_KINDS = (DerivedKind.QUERY_VIEW, DerivedKind.ALIGNED_VIEW, DerivedKind.OVERLAY, DerivedKind.CELLMAP)


class NotExplainable(StateConflict):
    """The candidate's surface is not in the unit's index (removed, or the index was rebuilt)."""


def _stored(index: bindex.Index, index_entry_id: str) -> Surface:
    for entry in index.entries():
        if entry.id == index_entry_id:
            return bindex.load_surface(index, entry)
    raise NotExplainable(_("The review images cannot be made: entry %(entry)s is not in the unit's index.",
                           entry=index_entry_id))


def greyscale_png(surface: Surface) -> bytes:
    """Heights as an 8-bit grey PNG (1st-99th percentile stretch), missing points transparent."""
    heights = surface.heights
    valid = np.isfinite(heights)
    lo, hi = np.percentile(heights[valid], [1, 99]) if valid.any() else (0.0, 1.0)
    grey = np.clip((np.nan_to_num(heights) - lo) / (hi - lo if hi > lo else 1.0), 0, 1)
    grey8 = (grey * 255).astype(np.uint8)
    rgba = np.dstack([grey8, grey8, grey8, np.where(valid, 255, 0).astype(np.uint8)])
    ok, data = cv2.imencode(".png", rgba)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return data.tobytes()


def views_of(candidate: Candidate) -> dict[str, DerivedObject]:
    rows = db.session.scalars(db.select(DerivedObject).where(DerivedObject.candidate_id == candidate.id))
    return {row.kind: row for row in rows}


def complete(views: dict[str, DerivedObject]) -> bool:
    return all(kind.value in views for kind in VIEW_KINDS)


@dataclass(frozen=True)
class ImageFacts:
    """What the review page says about a candidate's images (from the cell map's parameters)."""

    version: int  # IMAGES_VERSION they were made with (1: before full-resolution images)
    rows: int | None
    cols: int | None
    high_cmc: int | None  # High-CMC cells coloured on the cell map: the score's count (version 2)
    possible: int | None
    not_compared: int | None


def facts(views: dict[str, DerivedObject]) -> ImageFacts | None:
    """The facts of complete review images, None when they are not made yet."""
    if not complete(views):
        return None
    p = views[DerivedKind.CELLMAP.value].parameters or {}
    return ImageFacts(int(p.get("images", 1)), p.get("rows"), p.get("cols"), p.get("cellmap_high_cmc"),
                      p.get("cellmap_possible"), p.get("cellmap_not_compared"))


@dataclass(frozen=True)
class Rendered:
    """A candidate's review images, already in the object store, with how they were aligned."""

    digests: dict[str, str]  # kind -> sha256
    parameters: dict[str, Any]


def render(query: BallisticEntry, index_entry_id: str, comparison: Comparison | None = None) -> Rendered:
    """Store the four images of a candidate, from the search's `comparison` of the query (A) with the
    candidate (B) when there is one, else comparing the two stored surfaces again.

    The comparison runs on the index's stored surfaces (downsampled by its ``store_factor``); the
    images are drawn on the entries' processed surfaces, the finest grid the laboratory keeps, with
    the alignment carried over to that grid."""
    index = open_unit_index(query.unit_id, query.kind)
    a, b = _stored(index, query.index_entry_id), _stored(index, index_entry_id)
    result = comparison if comparison is not None else compare(a, b, params=index.cmc)
    full_a, full_b, alignment = _full_resolution(query, index_entry_id, a, b, result.alignment)
    cells_png, states = cell_map(full_a, result)
    images = {DerivedKind.QUERY_VIEW: greyscale_png(full_a),
              DerivedKind.ALIGNED_VIEW: greyscale_png(warp(full_b, alignment, full_a.shape)),
              DerivedKind.OVERLAY: registered_overlay(full_a, full_b, alignment),
              DerivedKind.CELLMAP: cells_png}
    parameters = {"angle_deg": alignment.angle_deg, "dx": alignment.dx, "dy": alignment.dy,
                  "score": result.score, "pixel_size_um": full_a.pixel_size * 1e6,
                  "compared_pixel_size_um": index.stored_pixel_size * 1e6,
                  "images": IMAGES_VERSION, "rows": full_a.shape[0], "cols": full_a.shape[1],
                  "cellmap_high_cmc": len(states.high), "cellmap_possible": len(states.possible),
                  "cellmap_not_compared": len(states.not_compared) + len(states.no_overlap)}
    store = object_store()
    return Rendered({kind.value: store.put(data) for kind, data in images.items()}, parameters)


def _full_resolution(query: BallisticEntry, index_entry_id: str, a: Surface, b: Surface,
                     alignment: Alignment) -> tuple[Surface, Surface, Alignment]:
    """The processed surfaces of both entries and the alignment on their grid; the stored surfaces as
    they are when either entry has no processed surface here (an index entry imported without its
    record, say)."""
    other = db.session.scalar(db.select(BallisticEntry).where(BallisticEntry.unit_id == query.unit_id,
                                                              BallisticEntry.index_entry_id == index_entry_id))
    if other is None:
        return a, b, alignment
    try:
        full_a, full_b = processed_surface(query), processed_surface(other)
    except (ObjectMissing, ObjectCorrupted, OSError, ValueError):
        log.exception("processed surfaces of entries %s and %s unreadable: review images at the index's grid",
                      query.id, other.id)
        return a, b, alignment
    return full_a, full_b, on_finer_grid(alignment, a.shape, full_a.shape)


def on_finer_grid(alignment: Alignment, coarse_shape: tuple[int, int], fine_shape: tuple[int, int]) -> Alignment:
    """The alignment found on downsampled surfaces, for the same surfaces at their finer grid.

    `ballistics.index.stored_form` downsamples with area averaging over the whole extent, so the
    centres coincide and a translation scales with the size ratio; the rotation is unchanged.
    """
    sy, sx = fine_shape[0] / coarse_shape[0], fine_shape[1] / coarse_shape[1]
    return replace(alignment, dx=alignment.dx * sx, dy=alignment.dy * sy)


def record(candidate: Candidate, query: BallisticEntry, rendered: Rendered,
           existing: dict[str, DerivedObject]) -> None:
    """Derived-object rows for the rendered images the candidate does not have yet."""
    for kind, digest in rendered.digests.items():
        if kind not in existing:
            db.session.add(DerivedObject(
                unit_id=query.unit_id, entry_id=query.id, candidate_id=candidate.id, kind=kind, sha256=digest,
                media_type="image/png", source_sha256=query.processed_sha256 or query.original_sha256,
                parameters=rendered.parameters))
    db.session.flush()


def ensure_views(candidate: Candidate, query: BallisticEntry,
                 comparison: Comparison | None = None) -> dict[str, DerivedObject]:
    """The candidate's review images, made and stored unless they exist (from `comparison` when the
    search already made it, else by comparing the pair again)."""
    existing = views_of(candidate)
    if complete(existing):  # made before a restart, or by someone who asked meanwhile
        return existing
    rendered = render(query, candidate.index_entry_id, comparison)
    try:
        with db.session.begin_nested():
            record(candidate, query, rendered, existing)
    except IntegrityError:  # another request made them at the same moment: theirs are as good
        pass
    return views_of(candidate)
