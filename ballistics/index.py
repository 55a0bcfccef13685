"""A searchable index of cartridge-case surfaces, stored in a directory of checksummed shard files.

Layout of an index directory::

    index.json                      manifest: settings, shard list with SHA-256 per file, calibration
    shards/<seq>-<gen>.desc.npy     float16 ring-spectrum descriptors, one row per entry (memory-mapped)
    shards/<seq>-<gen>.entries.json the entries of the shard: id, file, metadata, surface file and hash
    surfaces/<id[:2]>/<id>.npy      the stored surface: int16-quantised heights, -32768 = missing
    .lock                           advisory lock held by the one writer (released by the kernel on exit)

Crash safety: every file is written to a temporary name, flushed, fsync'ed and renamed over its
target with ``os.replace`` (atomic on POSIX), then the directory is fsync'ed. Shard files get a new
name at every write (the generation), so the files referenced by the current manifest are never
overwritten; the manifest is written last and is the commit point. A kill at any moment leaves
either the old or the new manifest, each referring only to complete files: every entry is wholly
present or absent. Files left behind by an interrupted write are unreferenced; `verify` lists them
and `rebuild` removes them.

Integrity: the manifest holds the SHA-256 of every shard file, each shard's entry list holds the
SHA-256 of every surface file, and readers check them before use (`IndexCorruptError` otherwise).

Stored surfaces are downsampled by ``store_factor`` (default 2: 12.5 µm for the 6.25 µm Fadul scans),
which makes the re-rank about three times faster while the known-match and known-non-match CMC
scores stay apart (see ``bench/bench_search.py``). Quantisation to int16 per entry keeps a relative
precision of 1/32767 of the largest height.

References
----------
.. [1] POSIX rename(2): "If newpath already exists, it will be atomically replaced".
.. [2] T. S. Pillai et al., "All file systems are not created equal: on the complexity of crafting
   crash-consistent applications", OSDI 2014 (fsync the file, rename, fsync the directory).
"""
from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import cv2
import numpy as np

from ballistics.cmc import CMCParams
from ballistics.descriptor import DescriptorParams, describe
from ballistics.preprocess import to_working_size
from ballistics.scoring import Calibration, RetiredCalibrationError
from ballistics.surface import Surface

__all__ = [
    "Entry",
    "Index",
    "IndexCorruptError",
    "NewEntry",
    "ShardInfo",
    "VerifyReport",
    "add",
    "check_query",
    "copy_index",
    "create_index",
    "entry_ids",
    "load_surface",
    "open_index",
    "read_descriptors",
    "read_entries",
    "rebuild",
    "remove",
    "set_calibration",
    "stored_form",
    "verify",
]

FORMAT = "ballistics-index"
VERSION = 1
MANIFEST = "index.json"
MISSING = np.int16(-32768)
_QUANT = 32767.0


class IndexCorruptError(ValueError):
    """A shard or entry file does not match its recorded SHA-256, or the manifest is unreadable."""


# --------------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ShardInfo:
    """One shard: its file stem, how many entries it holds and the SHA-256 of its two files."""

    name: str
    count: int
    descriptors_sha256: str
    entries_sha256: str


@dataclass(frozen=True)
class Entry:
    """One indexed surface.

    Attributes
    ----------
    id : str
        Unique in the index; by default the first 16 hex digits of the SHA-256 of the stored surface.
    file : str
        Name of the source file (no directory), or a name given by the caller.
    metadata : mapping
        JSON metadata: firearm, case number, source path and hash, scan provenance.
    surface_file : str
        Path of the stored surface relative to the index directory.
    surface_sha256 : str
    shape : (rows, cols)
        Shape of the stored (downsampled) surface.
    scale : float
        Metres per int16 step.
    """

    id: str
    file: str
    metadata: Mapping[str, Any]
    surface_file: str
    surface_sha256: str
    shape: tuple[int, int]
    scale: float
    added_at: str = ""

    def to_record(self) -> dict[str, Any]:
        return {"id": self.id, "file": self.file, "metadata": dict(self.metadata),
                "surface_file": self.surface_file, "surface_sha256": self.surface_sha256,
                "shape": list(self.shape), "scale": self.scale, "added_at": self.added_at}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "Entry":
        return cls(str(record["id"]), str(record["file"]), MappingProxyType(dict(record["metadata"])),
                   str(record["surface_file"]), str(record["surface_sha256"]),
                   (int(record["shape"][0]), int(record["shape"][1])), float(record["scale"]),
                   str(record.get("added_at", "")))


@dataclass(frozen=True)
class NewEntry:
    """A surface to add, with the name and metadata it is indexed under."""

    surface: Surface
    file: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Index:
    """A read-only snapshot of an index manifest (re-open to see later changes).

    Attributes
    ----------
    path : Path
    kind : {"topography", "image"}
        Kind of every entry and of acceptable queries.
    pixel_size : float
        Pixel size of the surfaces added and of acceptable queries, metres.
    store_factor : int
        Integer downsampling of stored surfaces (the re-rank runs at ``pixel_size * store_factor``).
    shard_size : int
        Entries per shard when shards are filled.
    descriptor : DescriptorParams
    cmc : CMCParams
        Parameters of the re-rank comparison (translation threshold scaled to the stored pixels).
    shards : tuple of ShardInfo
    calibration : Calibration or None
        Score-to-LR map for the re-rank scores, fitted with the same `cmc` and `store_factor`.
    generation : int
        Incremented by every committed write.
    retired_calibration : str
        Why the stored calibration was set aside (a retired method: refit it), else empty.
    """

    path: Path
    kind: str
    pixel_size: float
    store_factor: int
    shard_size: int
    descriptor: DescriptorParams
    cmc: CMCParams
    shards: tuple[ShardInfo, ...]
    calibration: Calibration | None
    generation: int
    created_at: str
    retired_calibration: str = ""

    def __len__(self) -> int:
        return sum(s.count for s in self.shards)

    @property
    def stored_pixel_size(self) -> float:
        return self.pixel_size * self.store_factor

    def shard_path(self, shard: ShardInfo, part: str) -> Path:
        """Path of a shard's ``"desc.npy"`` or ``"entries.json"`` file."""
        return self.path / "shards" / f"{shard.name}.{part}"

    def entries(self, *, check: bool = True) -> Iterator[Entry]:
        """Every entry, shard by shard (reads the entry lists, checking their hashes)."""
        for shard in self.shards:
            yield from read_entries(self, shard, check=check)


@dataclass(frozen=True)
class VerifyReport:
    """Result of `verify`: problems found (empty when the index is sound) and unreferenced files."""

    entries: int
    shards: int
    problems: tuple[str, ...]
    orphans: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


# --------------------------------------------------------------------------------------------------
# Files: atomic writes, hashes, lock
# --------------------------------------------------------------------------------------------------

def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: Path, data: bytes) -> str:
    """Write bytes so that ``path`` holds either its old or its new content, never a mix; returns the hash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return _sha256(data)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, indent=1, sort_keys=True, default=str).encode("utf-8")


@contextmanager
def _writer_lock(path: Path) -> Iterator[None]:
    """One writer at a time; flock is released by the kernel if the process dies, so no stale lock."""
    with open(path / ".lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --------------------------------------------------------------------------------------------------
# Manifest
# --------------------------------------------------------------------------------------------------

def _manifest(index: Index) -> dict[str, Any]:
    return {
        "format": FORMAT, "version": VERSION, "kind": index.kind, "pixel_size": index.pixel_size,
        "store_factor": index.store_factor, "shard_size": index.shard_size,
        "descriptor": index.descriptor.to_dict(), "cmc": _cmc_dict(index.cmc),
        "shards": [vars(s) for s in index.shards], "generation": index.generation,
        "created_at": index.created_at,
        "calibration": json.loads(index.calibration.to_json()) if index.calibration else None,
        **({"retired_calibration": index.retired_calibration} if index.retired_calibration else {}),
    }


def _cmc_dict(params: CMCParams) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(params).items()}


def _commit(index: Index) -> None:
    _atomic_write(index.path / MANIFEST, _json_bytes(_manifest(index)))


def open_index(path: str | os.PathLike[str]) -> Index:
    """Open an index directory (reads the manifest only; shards are read when used).

    Raises
    ------
    FileNotFoundError
        No directory or no manifest there.
    IndexCorruptError
        The manifest is not a readable index manifest.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"no index directory at {path}")
    if not (path / MANIFEST).is_file():
        raise FileNotFoundError(f"{path} is not an index: {MANIFEST} is missing (create it with "
                                "`ballistics index build` or create_index)")
    try:
        doc = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise IndexCorruptError(f"{path / MANIFEST}: not a {FORMAT} version {VERSION} manifest")
        return _from_manifest(path, doc)
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise IndexCorruptError(f"{path / MANIFEST} is unreadable: {exc}") from exc


def _from_manifest(path: Path, doc: Mapping[str, Any]) -> Index:
    cmc = dict(doc["cmc"])
    cmc["grid"] = tuple(cmc["grid"])
    calibration, retired = _stored_calibration(doc.get("calibration"))
    return Index(path, str(doc["kind"]), float(doc["pixel_size"]), int(doc["store_factor"]),
                 int(doc["shard_size"]), DescriptorParams.from_dict(doc["descriptor"]), CMCParams(**cmc),
                 tuple(ShardInfo(**s) for s in doc["shards"]), calibration,
                 int(doc["generation"]), str(doc.get("created_at", "")),
                 retired or str(doc.get("retired_calibration", "")))


def _stored_calibration(doc: Any) -> tuple[Calibration | None, str]:
    """The manifest's calibration; one of a retired method is set aside (no LRs until refitted)."""
    if not doc:
        return None, ""
    try:
        return Calibration.from_json(json.dumps(doc)), ""
    except RetiredCalibrationError as exc:
        # Searches must still run: they report no LR rather than the retired method's step-wise LR.
        return None, str(exc)


def create_index(path: str | os.PathLike[str], *, pixel_size: float, kind: str = "topography",
                 store_factor: int = 2, shard_size: int = 1000,
                 descriptor: DescriptorParams | None = None, cmc: CMCParams | None = None,
                 calibration: Calibration | None = None) -> Index:
    """Create an empty index in a new (or empty) directory.

    Parameters
    ----------
    path : path-like
    pixel_size : float, keyword-only
        Metres per pixel of the surfaces that will be added and searched for.
    kind : {"topography", "image"}, keyword-only
    store_factor : int, keyword-only
        Integer downsampling of the stored surfaces, which the re-rank compares.
    shard_size : int, keyword-only
        Entries per shard file (one task of the first pass scores one shard).
    descriptor : DescriptorParams, keyword-only
        Ring-spectrum settings (default `DescriptorParams()`).
    cmc : CMCParams, keyword-only
        Re-rank parameters; default: `CMCParams` with the translation threshold divided by
        ``store_factor``, so that it keeps its physical size (Song 2018: 20 px of 6.25 µm).
    calibration : Calibration, keyword-only
        Optional score-to-LR map, fitted on re-rank scores made with the same settings.

    Returns
    -------
    Index

    Examples
    --------
    >>> import tempfile
    >>> from ballistics.synth import synthetic_set
    >>> folder = tempfile.mkdtemp()
    >>> index = create_index(f"{folder}/index", pixel_size=6.25e-6, store_factor=1)
    >>> scans = synthetic_set(2, 2, seed=0, shape=(48, 48))
    >>> index = add(index, [NewEntry(s, file=name, metadata={"firearm": f}) for name, f, s in scans])
    >>> len(index), verify(index).ok
    (4, True)
    """
    path = Path(path)
    if not pixel_size > 0 or not np.isfinite(pixel_size):
        raise ValueError(f"pixel_size must be a positive number of metres, got {pixel_size!r}")
    if kind not in ("topography", "image"):
        raise ValueError(f"kind must be 'topography' or 'image', got {kind!r}")
    if store_factor < 1 or shard_size < 1:
        raise ValueError("store_factor and shard_size must be at least 1")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FileExistsError(f"{path} exists and is not an empty directory")
    path.mkdir(parents=True, exist_ok=True)
    descriptor = descriptor or DescriptorParams()
    if cmc is None:
        defaults = CMCParams()
        cmc = replace(defaults, translation_threshold=defaults.translation_threshold / store_factor)
    index = Index(path, kind, float(pixel_size), int(store_factor), int(shard_size), descriptor, cmc, (),
                  calibration, 0, _now())
    with _writer_lock(path):
        _commit(index)
    return index


# --------------------------------------------------------------------------------------------------
# Stored surfaces
# --------------------------------------------------------------------------------------------------

def check_query(index: Index, surface: Surface) -> None:
    """Refuse a surface the index cannot hold or be searched with (kind, no data); raw surfaces and
    other pixel sizes are accepted (`stored_form` brings them to the index's size)."""
    if not isinstance(surface, Surface):
        raise TypeError(f"expected a ballistics.Surface, got {type(surface).__name__}")
    if surface.kind != index.kind:
        raise ValueError(f"the index holds {index.kind} surfaces; this one is an {surface.kind}")
    if surface.mask.sum() < 16:
        raise ValueError("surface has fewer than 16 valid points (is it all NaN?)")


def stored_form(index: Index, surface: Surface) -> Surface:
    """The surface as the index stores it: preprocessed if raw, at the index's pixel size
    (`ballistics.preprocess.to_working_size`), then downsampled by ``store_factor`` (valid points only).

    Queries go through the same function, so that the re-rank compares like with like.
    """
    check_query(index, surface)
    surface, _ = to_working_size(surface, pixel_size=index.pixel_size)
    if surface.mask.sum() < 16:
        raise ValueError(f"fewer than 16 valid points left at the index's {index.pixel_size * 1e6:.4g} um per pixel")
    f = index.store_factor
    if f == 1:
        return surface
    mask = surface.mask
    size = (max(1, surface.shape[1] // f), max(1, surface.shape[0] // f))
    num = cv2.resize(np.where(mask, surface.heights, 0.0), size, interpolation=cv2.INTER_AREA)
    den = cv2.resize(mask.astype(np.float64), size, interpolation=cv2.INTER_AREA)
    # A stored pixel is valid only where all its source pixels were: no edge pixels of half data.
    heights = np.where(den > 0.999, num / np.maximum(den, 1e-12), np.nan)
    return surface.with_heights(heights, pixel_size=surface.pixel_size * f)


def _quantised(surface: Surface) -> tuple[np.ndarray, float]:
    heights = surface.heights
    peak = float(np.nanmax(np.abs(heights)))
    scale = peak / _QUANT if peak > 0 else 1.0
    q = np.full(heights.shape, MISSING, dtype=np.int16)
    valid = surface.mask
    q[valid] = np.round(heights[valid] / scale).astype(np.int16)
    return q, scale


def load_surface(index: Index, entry: Entry, *, check: bool = True) -> Surface:
    """The stored surface of an entry (memory-mapped read, SHA-256 checked unless ``check=False``)."""
    path = index.path / entry.surface_file
    if check:
        _check_file(path, entry.surface_sha256, f"entry {entry.id} ({entry.file})")
    q = np.load(path, mmap_mode="r", allow_pickle=False)
    heights = np.where(q == MISSING, np.nan, q.astype(np.float64) * entry.scale)
    return Surface(heights, index.stored_pixel_size, kind=index.kind, processed=True,  # type: ignore[arg-type]
                   metadata={"entry_id": entry.id, "file": entry.file})


def _check_file(path: Path, expected: str, what: str) -> None:
    try:
        actual = _file_sha256(path)
    except OSError as exc:
        raise IndexCorruptError(f"{what}: cannot read {path.name}: {exc.strerror or exc}") from exc
    if actual != expected:
        raise IndexCorruptError(f"{what}: {path.name} does not match its SHA-256 (corrupt or altered)")


def read_entries(index: Index, shard: ShardInfo, *, check: bool = True,
                 rows: Sequence[int] | None = None) -> list[Entry]:
    """The entries of one shard, in row order (the hash of the list is checked unless ``check=False``).

    ``rows`` picks some rows only (in the order given): a search needs a few entries of a shard, and
    building all of its entries cost more than reading the file.
    """
    records = _records(index, shard, check=check)
    if rows is None:
        return [Entry.from_record(r) for r in records]
    if any(not 0 <= r < len(records) for r in rows):
        raise IndexCorruptError(f"shard {shard.name}: holds {len(records)} entries, row {max(rows)} asked for")
    return [Entry.from_record(records[r]) for r in rows]


def _records(index: Index, shard: ShardInfo, *, check: bool) -> list[dict[str, Any]]:
    path = index.shard_path(shard, "entries.json")
    what = f"shard {shard.name}"
    try:
        data = path.read_bytes()  # read once, then hashed and parsed from memory
    except OSError as exc:
        raise IndexCorruptError(f"{what}: cannot read {path.name}: {exc.strerror or exc}") from exc
    if check and _sha256(data) != shard.entries_sha256:
        raise IndexCorruptError(f"{what}: {path.name} does not match its SHA-256 (corrupt or altered)")
    return json.loads(data)


def read_descriptors(index: Index, shard: ShardInfo, *, check: bool = True) -> np.ndarray:
    """The memory-mapped descriptor matrix of one shard (rows = entries)."""
    path = index.shard_path(shard, "desc.npy")
    if check:
        _check_file(path, shard.descriptors_sha256, f"shard {shard.name}")
    return np.load(path, mmap_mode="r", allow_pickle=False)


# --------------------------------------------------------------------------------------------------
# Writing: add, remove, rebuild
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Prepared:
    entry: Entry
    descriptor: np.ndarray
    data: bytes


def _prepare(index: Index, item: NewEntry) -> _Prepared:
    stored = stored_form(index, item.surface)
    q, scale = _quantised(stored)
    data = _npy_bytes(q)
    digest = _sha256(data)
    entry_id = item.id or digest[:16]
    if not entry_id.replace("-", "").replace("_", "").replace(".", "").isalnum() or len(entry_id) > 64:
        raise ValueError(f"entry id {entry_id!r} must be letters, digits, '-', '_' or '.' (at most 64)")
    metadata = json.loads(json.dumps(dict(item.metadata), default=str))
    entry = Entry(entry_id, item.file or entry_id, MappingProxyType(metadata),
                  f"surfaces/{entry_id[:2]}/{entry_id}.npy", digest, q.shape, scale, _now())  # type: ignore[arg-type]
    # The descriptor is made from the stored form (after quantisation), so rebuild reproduces it.
    restored = stored.with_heights(np.where(q == MISSING, np.nan, q * scale))
    return _Prepared(entry, describe(restored, params=index.descriptor).astype(np.float16), data)


def _write_shard(index: Index, seq: int, generation: int, entries: list[Entry],
                 descriptors: np.ndarray) -> ShardInfo:
    name = f"{seq:06d}-{generation:08d}"
    base = index.path / "shards"
    desc_hash = _atomic_write(base / f"{name}.desc.npy", _npy_bytes(descriptors.astype(np.float16)))
    entries_hash = _atomic_write(base / f"{name}.entries.json", _json_bytes([e.to_record() for e in entries]))
    return ShardInfo(name, len(entries), desc_hash, entries_hash)


def entry_ids(index: Index, *, check: bool = True) -> set[str]:
    """The ids of every entry (reads the entry lists, checking their hashes; builds no `Entry`)."""
    ids: set[str] = set()
    for shard in index.shards:
        ids.update(str(r["id"]) for r in _records(index, shard, check=check))
    return ids


_existing_ids = entry_ids


def add(path: str | os.PathLike[str] | Index, items: Iterable[NewEntry], *, batch: int | None = None,
        progress: Any = None) -> Index:
    """Add surfaces to an index; each batch is committed atomically.

    Parameters
    ----------
    path : path-like or Index
    items : iterable of NewEntry
        Consumed lazily, so a generator of 100,000 synthetic surfaces is fine.
    batch : int, keyword-only
        Entries per commit (default: the shard size). After a crash, every entry of a committed
        batch is present and none of an uncommitted one.
    progress : callable, keyword-only
        Called with the number of entries committed by each batch (e.g. ``tqdm.update``).

    Returns
    -------
    Index
        The index after the last commit.

    Raises
    ------
    ValueError
        Wrong kind or pixel size, unprocessed surface, or an id already in the index.
    """
    root = path.path if isinstance(path, Index) else Path(path)
    with _writer_lock(_existing_dir(root)):
        index = open_index(root)
        size = batch or index.shard_size
        if size < 1:
            raise ValueError("batch must be at least 1")
        known = _existing_ids(index)
        pending: list[_Prepared] = []
        for item in items:
            prepared = _prepare(index, item)
            if prepared.entry.id in known:
                raise ValueError(f"entry {prepared.entry.id} ({prepared.entry.file}) is already in the index")
            known.add(prepared.entry.id)
            pending.append(prepared)
            if len(pending) >= size:
                index = _commit_batch(index, pending, progress)
                pending = []
        if pending:
            index = _commit_batch(index, pending, progress)
        return index


def _existing_dir(path: Path) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"no index directory at {path}")
    return path


def _commit_batch(index: Index, batch: list[_Prepared], progress: Any) -> Index:
    """Surfaces first, then shard files, then the manifest (the commit point), then clean-up."""
    _write_surfaces(index.path, batch)
    generation = index.generation + 1
    shards = list(index.shards)
    # Top up the last shard (rewritten under a new name) before opening new ones.
    if shards and shards[-1].count < index.shard_size:
        last = shards.pop()
        entries, descriptors = read_entries(index, last), np.asarray(read_descriptors(index, last))
    else:
        entries, descriptors = [], np.zeros((0, index.descriptor.size), np.float16)
    seq = _next_seq(index)
    new = [p.entry for p in batch]
    new_desc = np.stack([p.descriptor for p in batch])
    entries, descriptors = entries + new, np.concatenate([descriptors, new_desc])
    while entries:
        take = index.shard_size
        shards.append(_write_shard(index, seq, generation, entries[:take], descriptors[:take]))
        entries, descriptors, seq = entries[take:], descriptors[take:], seq + 1
    updated = replace(index, shards=tuple(shards), generation=generation)
    _commit(updated)
    _remove_unreferenced_shard_files(updated)
    if progress is not None:
        progress(len(batch))
    return updated


def _write_surfaces(root: Path, batch: list[_Prepared]) -> None:
    """The `_atomic_write` protocol for a whole batch, with one ``sync`` instead of two fsyncs per file.

    An fsync costs a journal commit (about 5 ms here), which made 100,000 adds take minutes; one
    sync(2) before the renames and one after give the same guarantee: no rename of an unwritten
    file, and every surface durable before the manifest that refers to it. A few files (an upload
    adds one) are fsync'ed one by one instead: sync(2) flushes every file system of the machine,
    which on a busy server costs far more than a few fsyncs.
    """
    if len(batch) <= _FSYNC_BATCH:
        for p in batch:
            _atomic_write(root / p.entry.surface_file, p.data)
        return
    moves = []
    for p in batch:
        target = root / p.entry.surface_file
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(p.data)
        moves.append((tmp, target))
    os.sync()
    for tmp, target in moves:
        os.replace(tmp, target)
    os.sync()


_FSYNC_BATCH = 8


def _next_seq(index: Index) -> int:
    """Sequence number for new shards; a rewritten last shard keeps its own."""
    if not index.shards:
        return 0
    last = index.shards[-1]
    seq = int(last.name.split("-")[0])
    return seq if last.count < index.shard_size else seq + 1


def _referenced_shard_files(index: Index) -> set[str]:
    return {f"{s.name}.{part}" for s in index.shards for part in ("desc.npy", "entries.json")}


def _remove_unreferenced_shard_files(index: Index) -> None:
    keep = _referenced_shard_files(index)
    for file in (index.path / "shards").iterdir():
        if file.name not in keep:
            file.unlink(missing_ok=True)


def remove(path: str | os.PathLike[str] | Index, ids: Iterable[str]) -> Index:
    """Remove entries by id (their shards are rewritten; then the surface files are deleted).

    Raises
    ------
    KeyError
        An id that is not in the index (nothing is removed then).
    """
    root = path.path if isinstance(path, Index) else Path(path)
    with _writer_lock(_existing_dir(root)):
        index = open_index(root)
        wanted = set(ids)
        missing = wanted - _existing_ids(index)
        if missing:
            raise KeyError(f"not in the index: {', '.join(sorted(missing))}")
        generation = index.generation + 1
        shards, gone = [], []
        for shard in index.shards:
            entries = read_entries(index, shard)
            keep = [i for i, e in enumerate(entries) if e.id not in wanted]
            if len(keep) == len(entries):
                shards.append(shard)
                continue
            gone += [e for e in entries if e.id in wanted]
            if keep:
                descriptors = np.asarray(read_descriptors(index, shard))[keep]
                seq = int(shard.name.split("-")[0])
                shards.append(_write_shard(index, seq, generation, [entries[i] for i in keep], descriptors))
        updated = replace(index, shards=tuple(shards), generation=generation)
        _commit(updated)
        _remove_unreferenced_shard_files(updated)
        for entry in gone:
            (index.path / entry.surface_file).unlink(missing_ok=True)
        return updated


def rebuild(path: str | os.PathLike[str] | Index, *, descriptor: DescriptorParams | None = None,
            progress: Any = None) -> Index:
    """Recompute every descriptor from the stored surfaces and repack full shards.

    Also deletes files no longer referenced (left by interrupted writes or removals). Use it after
    changing the descriptor parameters or after many removals.
    """
    root = path.path if isinstance(path, Index) else Path(path)
    with _writer_lock(_existing_dir(root)):
        index = open_index(root)
        params = descriptor or index.descriptor
        generation = index.generation + 1
        target = replace(index, descriptor=params)
        entries = list(index.entries())
        shards = []
        for seq, start in enumerate(range(0, len(entries), index.shard_size)):
            chunk = entries[start:start + index.shard_size]
            descriptors = np.stack([describe(load_surface(index, e), params=params) for e in chunk])
            shards.append(_write_shard(target, seq, generation, chunk, descriptors))
            if progress is not None:
                progress(len(chunk))
        updated = replace(target, shards=tuple(shards), generation=generation)
        _commit(updated)
        (root / "shards").mkdir(exist_ok=True)
        _remove_unreferenced_shard_files(updated)
        for orphan in _orphan_surfaces(updated, entries):
            orphan.unlink(missing_ok=True)
        return updated


def _orphan_surfaces(index: Index, entries: list[Entry]) -> list[Path]:
    keep = {e.surface_file for e in entries}
    base = index.path / "surfaces"
    if not base.is_dir():
        return []
    return [p for p in base.glob("*/*") if p.relative_to(index.path).as_posix() not in keep]


def set_calibration(path: str | os.PathLike[str] | Index, calibration: Calibration | None) -> Index:
    """Store (or clear) the score-to-LR calibration used to report likelihood ratios."""
    root = path.path if isinstance(path, Index) else Path(path)
    with _writer_lock(_existing_dir(root)):
        index = open_index(root)
        updated = replace(index, calibration=calibration, generation=index.generation + 1, retired_calibration="")
        _commit(updated)
        return updated


# --------------------------------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------------------------------

def verify(path: str | os.PathLike[str] | Index, *, surfaces: bool = True) -> VerifyReport:
    """Check every shard and (optionally) every surface file against its SHA-256 and the counts.

    Returns
    -------
    VerifyReport
        ``problems`` names each bad shard or entry; ``orphans`` lists files no manifest refers to
        (harmless leftovers of interrupted writes, removed by `rebuild`).
    """
    index = path if isinstance(path, Index) else open_index(path)
    problems: list[str] = []
    entries: list[Entry] = []
    seen: set[str] = set()
    for shard in index.shards:
        try:
            shard_entries = read_entries(index, shard)
            descriptors = read_descriptors(index, shard)
        except (IndexCorruptError, ValueError, OSError) as exc:
            problems.append(str(exc))
            continue
        if len(shard_entries) != shard.count or descriptors.shape != (shard.count, index.descriptor.size):
            problems.append(f"shard {shard.name}: holds {len(shard_entries)} entries and "
                            f"{descriptors.shape[0]} descriptors, manifest says {shard.count}")
        for entry in shard_entries:
            if entry.id in seen:
                problems.append(f"entry {entry.id}: listed twice")
            seen.add(entry.id)
        entries += shard_entries
    if surfaces:
        problems += _surface_problems(index, entries)
    orphans = sorted(p.relative_to(index.path).as_posix() for p in _orphan_surfaces(index, entries))
    stray = sorted(f"shards/{p.name}" for p in (index.path / "shards").glob("*")
                   if p.name not in _referenced_shard_files(index)) if (index.path / "shards").is_dir() else []
    return VerifyReport(len(entries), len(index.shards), tuple(problems), tuple(orphans + stray))


def _surface_problems(index: Index, entries: list[Entry]) -> list[str]:
    problems = []
    for entry in entries:
        try:
            _check_file(index.path / entry.surface_file, entry.surface_sha256,
                        f"entry {entry.id} ({entry.file})")
        except IndexCorruptError as exc:
            problems.append(str(exc))
    return problems


def copy_index(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> Index:
    """Copy an index directory (a consistent snapshot: taken under the writer lock)."""
    source, target = Path(source), Path(target)
    with _writer_lock(_existing_dir(source)):
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(".lock", ".*.tmp"))
    return open_index(target)
