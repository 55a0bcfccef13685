"""The unit's search index: where it lives, how a scan is prepared for it, adding an entry, searching it.

One index per unit and kind of surface, under the instance folder. Used by the services (uploads),
the background job (`qms.comparisons.jobs`: process, index, search), the review images
(`qms.comparisons.explain`), calibration and the exchange.
"""
from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app

from ballistics import index as bindex
from ballistics.io import SurfaceWarning, read_surface, write_x3p
from ballistics.preprocess import to_working_size
from ballistics.search import DEFAULT_SHORTLIST, search
from ballistics.search import Candidate as Hit
from ballistics.surface import Surface
from qms.comparisons.models import BallisticEntry, DerivedKind, DerivedObject, SurfaceKind
from qms.extensions import db
from qms.storage import object_store

INDEX_PIXEL_SIZE = 6.25e-6  # the comparison resolution of every unit index (cmcR: 6.25 µm)
TOP = 20  # candidates kept per search
MEDIA_TYPES = {"x3p": "application/x-iso5436-2", "png": "image/png", "tiff": "image/tiff", "jpeg": "image/jpeg"}


def unit_index_path(unit_id: int, kind: str = SurfaceKind.TOPOGRAPHY.value) -> Path:
    """Directory of a unit's search index for one kind of surface (under the instance folder)."""
    default = Path(current_app.config["INSTANCE_PATH"]) / "ballistic-index"
    root = current_app.config.get("BALLISTIC_INDEX_ROOT") or default
    return Path(root) / f"unit-{unit_id}" / kind


def open_unit_index(unit_id: int, kind: str = SurfaceKind.TOPOGRAPHY.value) -> bindex.Index:
    """The unit's index, created empty on first use."""
    path = unit_index_path(unit_id, kind)
    if (path / "index.json").exists():
        return bindex.open_index(path)
    try:
        return bindex.create_index(path, pixel_size=INDEX_PIXEL_SIZE, kind=kind)
    except FileExistsError:  # another worker created it meanwhile
        return bindex.open_index(path)


def index_entry(entry: BallisticEntry, surface: Surface) -> bool:
    """Add the entry's processed surface to its unit's index under its uuid; False if already there.

    Idempotent, so a job retried after a crash never adds an entry twice.
    """
    index = open_unit_index(entry.unit_id, entry.kind)
    if entry_in_index(index, entry.index_entry_id):
        return False
    metadata = {"entry_id": entry.id, "unit_id": entry.unit_id, "calibre": entry.calibre, "origin": entry.origin}
    try:
        bindex.add(index, [bindex.NewEntry(surface, file=entry.original_name or entry.index_entry_id,
                                           metadata=metadata, id=entry.index_entry_id)])
    except ValueError as error:
        if "already in the index" in str(error):  # a concurrent retry got there first
            return False
        raise
    return True


def entry_in_index(index: bindex.Index, index_entry_id: str) -> bool:
    return index_entry_id in bindex.entry_ids(index)


def original_bytes(entry: BallisticEntry) -> bytes:
    return object_store().get(entry.original_sha256)


def processed_surface(entry: BallisticEntry) -> Surface:
    """The entry's processed surface at the index resolution; computed once and kept as a derived X3P."""
    store = object_store()
    if entry.processed_sha256:
        return read_scan(store.get(entry.processed_sha256), processed=True)
    surface, parameters = prepared_for_index(read_scan(original_bytes(entry), pixel_size=entry.pixel_size_um * 1e-6))
    with tempfile.TemporaryDirectory() as folder:
        data = write_x3p(surface, Path(folder) / "processed.x3p").read_bytes()
    digest = store.put(data)
    db.session.add(DerivedObject(unit_id=entry.unit_id, entry_id=entry.id, kind=DerivedKind.PROCESSED.value,
                                 sha256=digest, media_type=MEDIA_TYPES["x3p"], source_sha256=entry.original_sha256,
                                 parameters=parameters))
    entry.processed_sha256 = digest
    db.session.flush()
    return surface


def prepared_for_index(surface: Surface) -> tuple[Surface, dict[str, Any]]:
    """A scan processed (unless it already is) and at the index's pixel size, with what was done.

    Any instrument's pixel size is taken: `ballistics.preprocess.to_working_size` preprocesses a raw
    scan and resamples a processed one unless it is exactly at the index's size (no tolerance).
    """
    working, step = to_working_size(surface, pixel_size=INDEX_PIXEL_SIZE)
    parameters: dict[str, Any] = {
        "preprocess": "none: the upload is already processed" if surface.processed
        else "ballistics.preprocess defaults",
        "source_pixel_size_um": surface.pixel_size_um, "working_pixel_size_um": INDEX_PIXEL_SIZE * 1e6,
        "step": step,
    }
    return working, parameters


def read_scan(data: bytes, **options: Any) -> Surface:
    """A stored scan's bytes as a surface (`ballistics.io.read_surface` reads files)."""
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore", SurfaceWarning)
        path = Path(folder) / "surface"
        path.write_bytes(data)
        return read_surface(path, **options)


@dataclass(frozen=True)
class Ranked:
    """One candidate of a search: its rank among the others (the query itself left out)."""

    rank: int
    hit: Hit


def search_entry(entry: BallisticEntry, *, top: int = TOP, shortlist: int = DEFAULT_SHORTLIST,
                 executor: Any = None, surface: Surface | None = None) -> list[Ranked]:
    """Rank the entries of the entry's unit index against it (the entry itself excluded)."""
    index = open_unit_index(entry.unit_id, entry.kind)
    if len(index) == 0:
        return []
    query = surface if surface is not None else processed_surface(entry)
    # The query is in the index itself: left out before the shortlist, so it is never compared with itself.
    result = search(index, query, top=top, shortlist=shortlist, executor=executor,
                    exclude={entry.index_entry_id} if entry.index_entry_id else ())
    return [Ranked(hit.rank, hit) for hit in result.candidates]
