"""Subcommands ``index`` (build, add, remove, rebuild, info, verify), ``search`` and ``synth``.

`ballistics.cli` lists their ``register_*`` functions among its subcommands. Heavy modules (numpy,
OpenCV, SciPy, tqdm, Dask) are imported inside the handlers, so that ``ballistics --help`` and a
mistyped command answer without loading them.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any, Iterator

__all__ = ["register_index", "register_search", "register_synth"]


def _progress(total: int | None, desc: str, quiet: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="entry", disable=quiet, file=sys.stderr)


# --------------------------------------------------------------------------------------------------
# Reading scans
# --------------------------------------------------------------------------------------------------

def read_index_manifest(path: Path) -> list[tuple[Path, str]]:
    """(file, firearm) rows of a CSV with a ``file`` column (``firearm`` optional); paths relative to it."""
    if not path.is_file():
        raise ValueError(f"manifest not found: {path}")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "file" not in reader.fieldnames:
            raise ValueError(f"manifest {path.name} needs a 'file' column, found {reader.fieldnames}")
        rows = [(Path(r["file"].strip()), (r.get("firearm") or "").strip()) for r in reader
                if (r.get("file") or "").strip()]
    rows = [(f if f.is_absolute() else path.parent / f, firearm) for f, firearm in rows]
    missing = [str(f) for f, _ in rows if not f.is_file()]
    if missing:
        raise ValueError(f"{len(missing)} file(s) of the manifest are missing, e.g. {missing[0]}")
    if not rows:
        raise ValueError(f"manifest {path.name} lists no files")
    return rows


def _scan(path: Path) -> Any:
    """A scan as the index takes it: raw scans are always preprocessed (``--preprocess`` is kept for
    old scripts); other pixel sizes are resampled to the index's by `ballistics.index.stored_form`."""
    from ballistics.io import read_surface

    surface = read_surface(path)
    if surface.processed:
        return surface
    from ballistics.preprocess import preprocess as run_preprocess

    return run_preprocess(surface)


def _new_entries(rows: list[tuple[Path, str]]) -> Iterator[Any]:
    from ballistics.index import NewEntry

    for path, firearm in rows:
        surface = _scan(path)
        metadata = {"source": str(path), "source_sha256": surface.metadata.get("sha256"),
                    "scan": dict(surface.metadata)}
        if firearm:
            metadata["firearm"] = firearm
        yield NewEntry(surface, file=path.name, metadata=metadata)


# --------------------------------------------------------------------------------------------------
# index build | add | remove | rebuild | info | verify
# --------------------------------------------------------------------------------------------------

def register_index(subparsers: Any) -> None:
    """``ballistics index ...``: build and maintain a search index."""
    p = subparsers.add_parser("index", help="build and maintain a search index (a directory)")
    sub = p.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="create an index from a manifest CSV (columns file, firearm)")
    build.add_argument("dir", type=Path)
    build.add_argument("manifest", type=Path)
    build.add_argument("--store-factor", type=int, default=2, help="downsampling of stored surfaces (2)")
    build.add_argument("--shard-size", type=int, default=1000, help="entries per shard (1000)")
    build.add_argument("--calibration", type=Path, help="calibration.json to store with the index")
    _common(build, _build)
    add = sub.add_parser("add", help="add scans to an index")
    add.add_argument("dir", type=Path)
    add.add_argument("files", type=Path, nargs="+")
    add.add_argument("--firearm", default="", help="firearm (or case) the scans come from")
    _common(add, _add)
    remove = sub.add_parser("remove", help="remove entries by id")
    remove.add_argument("dir", type=Path)
    remove.add_argument("ids", nargs="+")
    remove.set_defaults(handler=_remove)
    rebuild = sub.add_parser("rebuild", help="recompute descriptors, repack shards, drop stray files")
    rebuild.add_argument("dir", type=Path)
    rebuild.add_argument("--quiet", action="store_true")
    rebuild.set_defaults(handler=_rebuild)
    for name, handler, text in (("info", _info, "describe an index"), ("verify", _verify, "check every checksum")):
        q = sub.add_parser(name, help=text)
        q.add_argument("dir", type=Path)
        q.add_argument("--json", action="store_true", help="print JSON")
        q.set_defaults(handler=handler)


def _common(parser: argparse.ArgumentParser, handler: Any) -> None:
    parser.add_argument("--preprocess", action="store_true", help=argparse.SUPPRESS)  # now always done
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=handler)


def _build(args: argparse.Namespace) -> int:
    from ballistics.index import add, create_index
    from ballistics.scoring import Calibration

    rows = read_index_manifest(args.manifest)
    calibration = (Calibration.from_json(args.calibration.read_text(encoding="utf-8"))
                   if args.calibration else None)
    first = _scan(rows[0][0])
    index = create_index(args.dir, pixel_size=first.pixel_size, kind=first.kind, store_factor=args.store_factor,
                         shard_size=args.shard_size, calibration=calibration)
    with _progress(len(rows), "indexing", args.quiet) as bar:
        index = add(index, _new_entries(rows), batch=min(len(rows), 100), progress=bar.update)
    print(f"indexed {len(index)} entries in {len(index.shards)} shard(s) at {args.dir}")
    return 0


def _add(args: argparse.Namespace) -> int:
    from ballistics.index import add, open_index

    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        raise ValueError(f"file not found: {missing[0]}")
    before = len(open_index(args.dir))
    with _progress(len(args.files), "adding", args.quiet) as bar:
        index = add(args.dir, _new_entries([(f, args.firearm) for f in args.files]),
                    batch=100, progress=bar.update)
    print(f"added {len(index) - before} entries; the index holds {len(index)}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from ballistics.index import remove

    try:
        index = remove(args.dir, args.ids)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from exc
    print(f"removed {len(args.ids)} entries; the index holds {len(index)}")
    return 0


def _rebuild(args: argparse.Namespace) -> int:
    from ballistics.index import open_index, rebuild

    with _progress(len(open_index(args.dir)), "rebuilding", args.quiet) as bar:
        index = rebuild(args.dir, progress=bar.update)
    print(f"rebuilt {len(index)} entries in {len(index.shards)} shard(s)")
    return 0


def _disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _info(args: argparse.Namespace) -> int:
    from ballistics.index import open_index

    index = open_index(args.dir)
    info = {"path": str(index.path), "entries": len(index), "shards": len(index.shards),
            "kind": index.kind, "pixel_size_um": index.pixel_size * 1e6, "store_factor": index.store_factor,
            "shard_size": index.shard_size, "descriptor": index.descriptor.to_dict(),
            "calibrated": index.calibration is not None, "generation": index.generation,
            "created_at": index.created_at, "disk_bytes": _disk_bytes(index.path)}
    _print(info, args.json)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ballistics.index import verify

    report = verify(args.dir)
    doc = {"ok": report.ok, "entries": report.entries, "shards": report.shards,
           "problems": list(report.problems), "orphans": list(report.orphans)}
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        for problem in report.problems:
            print(f"problem: {problem}")
        print(f"{'ok' if report.ok else 'CORRUPT'}: {report.entries} entries in {report.shards} shard(s), "
              f"{len(report.problems)} problem(s), {len(report.orphans)} unreferenced file(s)")
    return 0 if report.ok else 1


def _print(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key}: {value}")


# --------------------------------------------------------------------------------------------------
# search
# --------------------------------------------------------------------------------------------------

def register_search(subparsers: Any) -> None:
    """``ballistics search DIR QUERY``: ranked candidates for one scan."""
    p = subparsers.add_parser("search", help="rank the entries of an index against a scan")
    p.add_argument("dir", type=Path, help="index directory")
    p.add_argument("query", type=Path, help="scan (X3P)")
    p.add_argument("--top", type=int, default=20, help="candidates listed (20)")
    p.add_argument("--shortlist", type=int, default=None, help="candidates re-ranked by CMC (default 10)")
    p.add_argument("--dask", metavar="ADDRESS", help="dask.distributed scheduler, e.g. tcp://127.0.0.1:8786")
    p.add_argument("--workers", type=int, default=None, help="local processes (default: all cores)")
    p.add_argument("--on-corrupt", choices=("raise", "skip"), default="raise",
                   help="a corrupt shard or entry: stop (default) or skip it and say so")
    p.add_argument("--calibration", type=Path, help="calibration.json (default: the index's own)")
    p.add_argument("--preprocess", action="store_true", help=argparse.SUPPRESS)  # now always done
    p.add_argument("--json", action="store_true", help="print the ranked candidates as JSON")
    p.set_defaults(handler=_search)


def _search(args: argparse.Namespace) -> int:
    from ballistics.index import open_index
    from ballistics.search import DEFAULT_SHORTLIST, local_executor, search

    index = open_index(args.dir)
    if not args.query.is_file():
        raise ValueError(f"query not found: {args.query}")
    if args.workers is not None and args.workers < 1:
        raise ValueError("--workers must be at least 1")
    query = _scan(args.query)
    options = {"top": args.top, "shortlist": DEFAULT_SHORTLIST if args.shortlist is None else args.shortlist,
               "calibration": _calibration(args.calibration), "on_corrupt": args.on_corrupt}
    if args.dask:
        result = _search_on_dask(args.dask, index, query, options)
    else:
        with local_executor(args.workers) as pool:
            result = search(index, query, executor=pool, **options)
    _report(result, args)
    return 0


def _calibration(path: Path | None) -> Any:
    if path is None:
        return None
    from ballistics.scoring import Calibration

    return Calibration.from_json(path.read_text(encoding="utf-8"))


def _search_on_dask(address: str, index: Any, query: Any, options: dict[str, Any]) -> Any:
    from distributed import Client

    from ballistics.search import search

    try:
        client = Client(address, timeout="5s")
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    with client:
        return search(index, query, executor=client, **options)


def _report(result: Any, args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps({"query": str(args.query), **result.to_dict()}, indent=2, default=str))
        return
    t = result.timings
    print(f"{result.index_size} entries; first pass {t.first_pass_s:.2f} s, re-rank of {result.shortlist} "
          f"{t.rerank_s:.2f} s, total {t.total_s:.2f} s")
    for c in result.candidates:
        cmc = (f"score {c.score:.3f} (High-CMC {c.high_cmc}/{c.possible_cells})" if c.score is not None
               else "not re-ranked")
        lr = f", log10 LR {c.log10_lr:.2f}" if c.log10_lr is not None else ""
        firearm = c.metadata.get("firearm", "")
        print(f"{c.rank:3d}. {c.file} [{c.entry_id}] {firearm} first pass {c.first_pass_score:.3f}; {cmc}{lr}")
    for message in result.skipped:
        print(f"skipped: {message}", file=sys.stderr)


# --------------------------------------------------------------------------------------------------
# synth
# --------------------------------------------------------------------------------------------------

def register_synth(subparsers: Any) -> None:
    """``ballistics synth --n N OUT_DIR``: a large synthetic set for scale tests."""
    p = subparsers.add_parser("synth", help="make N synthetic scans (X3P + manifest.csv) or an index of them")
    p.add_argument("out", type=Path)
    p.add_argument("--n", type=int, required=True, help="number of scans")
    p.add_argument("--shots", type=int, default=4, help="scans per synthetic firearm (4)")
    p.add_argument("--size", type=int, default=96, help="pixels per side (96)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--index", action="store_true", help="write an index at OUT instead of X3P files")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_synth)


def _synthetic(args: argparse.Namespace) -> Iterator[tuple[str, str, Any]]:
    from itertools import islice

    from ballistics.synth import synthetic_set

    if args.n < 1 or args.shots < 1 or args.size < 32:
        raise ValueError("--n and --shots must be at least 1 and --size at least 32")
    firearms = -(-args.n // args.shots)
    return islice(synthetic_set(firearms, args.shots, seed=args.seed, shape=(args.size, args.size)), args.n)


def _synth(args: argparse.Namespace) -> int:
    scans = _synthetic(args)
    if args.index:
        from ballistics.index import NewEntry, add, create_index

        index = create_index(args.out, pixel_size=6.25e-6, store_factor=1)
        items = (NewEntry(s, file=name, metadata={"firearm": firearm}, id=name) for name, firearm, s in scans)
        with _progress(args.n, "synthesising", args.quiet) as bar:
            index = add(index, items, progress=bar.update)
        print(f"wrote an index of {len(index)} synthetic entries at {args.out}")
        return 0
    return _synth_files(args, scans)


def _synth_files(args: argparse.Namespace, scans: Iterator[tuple[str, str, Any]]) -> int:
    from ballistics.io import write_x3p

    args.out.mkdir(parents=True, exist_ok=True)
    with _progress(args.n, "synthesising", args.quiet) as bar, \
            open(args.out / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "firearm"])
        for name, firearm, surface in scans:
            write_x3p(surface, args.out / f"{name}.x3p")
            writer.writerow([f"{name}.x3p", firearm])
            bar.update()
    print(f"wrote {args.n} synthetic scans and manifest.csv to {args.out}")
    return 0
