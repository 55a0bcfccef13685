"""ballistics.search: retrieval on the Fadul scans, Dask = local, corrupt files, bad input, CLI."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

import ballistics.index_cli  # noqa: F401  (registers the subcommands)
from ballistics import index as ix
from ballistics.cli import main
from ballistics.registration import Alignment, warp
from ballistics.search import DEFAULT_SHORTLIST, local_executor, search
from ballistics.synth import synthetic_set

PIXEL = 6.25e-6


@pytest.fixture(scope="module")
def pool():
    with local_executor(2) as executor:
        yield executor


@pytest.fixture(scope="module")
def synthetic_index(tmp_path_factory):
    """18 synthetic entries (6 firearms x 3) in shards of 5, plus one more shot of firearm 0 as query."""
    scans = list(synthetic_set(6, 4, seed=3, shape=(64, 64), rotation_range_deg=180))
    stored = [scan for scan in scans if not scan[0].endswith("S03")]
    index = ix.create_index(tmp_path_factory.mktemp("search") / "index", pixel_size=PIXEL, shard_size=5,
                            store_factor=1)
    index = ix.add(index, [ix.NewEntry(s, file=f"{n}.x3p", metadata={"firearm": f}, id=n) for n, f, s in stored])
    return index, scans[3][2]


def _copy(index: ix.Index, tmp_path: Path) -> ix.Index:
    return ix.copy_index(index.path, tmp_path / "copy")


# --------------------------------------------------------------------------------------------------
# Acceptance 1: retrieval on the real scans
# --------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_fadul_same_firearm_ranks_first(fadul_dir, fadul_truth, tmp_path, pool):
    """Each scan, randomly rotated, against an index of the other 39 (Fadul et al. 2011 scans)."""
    from ballistics.io import read_surface

    names = sorted(fadul_truth)
    surfaces = {name: read_surface(fadul_dir / name) for name in names}
    full = ix.create_index(tmp_path / "all", pixel_size=PIXEL)
    ids = {name: name.removesuffix(".x3p").replace(" ", "_") for name in names}
    ix.add(full, [ix.NewEntry(surfaces[n], file=n, metadata={"firearm": fadul_truth[n]}, id=ids[n]) for n in names])
    rng = np.random.default_rng(2026)
    ranks, first_pass = [], []
    for name in names:
        shutil.rmtree(tmp_path / "others", ignore_errors=True)
        others = ix.remove(ix.copy_index(full.path, tmp_path / "others"), [ids[name]])
        query = warp(surfaces[name], Alignment(float(rng.uniform(-180, 180)), 0, 0, 0, 0), surfaces[name].shape)
        result = search(others, query, top=39, executor=pool)
        assert len(result.candidates) == 39 and ids[name] not in {c.entry_id for c in result.candidates}
        firearms = [c.metadata["firearm"] for c in result.candidates]
        ranks.append(firearms.index(fadul_truth[name]) + 1)
        by_first = sorted(result.candidates, key=lambda c: c.first_pass_rank)
        first_pass.append([c.metadata["firearm"] for c in by_first].index(fadul_truth[name]) + 1)
    ranks, first_pass = np.array(ranks), np.array(first_pass)
    print(f"\nFadul retrieval (shortlist {DEFAULT_SHORTLIST}): rank 1 for {np.mean(ranks == 1):.1%} of queries, "
          f"MRR {np.mean(1 / ranks):.3f}; first pass alone: rank 1 {np.mean(first_pass == 1):.1%}, "
          f"MRR {np.mean(1 / first_pass):.3f}, in the shortlist {np.mean(first_pass <= DEFAULT_SHORTLIST):.1%}; "
          f"ranks {sorted(ranks.tolist())}, first-pass ranks {sorted(first_pass.tolist())}")
    assert np.mean(ranks == 1) >= 0.95


# --------------------------------------------------------------------------------------------------
# Acceptance 2: a Dask cluster returns the local ranking
# --------------------------------------------------------------------------------------------------

def test_dask_cluster_returns_the_local_ranking(synthetic_index, pool, tmp_path, capsys):
    from distributed import Client, LocalCluster

    from ballistics.io import write_x3p

    index, query = synthetic_index
    local = search(index, query, top=12, shortlist=5, executor=pool)
    write_x3p(query, tmp_path / "query.x3p")
    # TCP on loopback (not the in-process transport), so tasks and results really are serialised.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=":0") as cluster:
        with Client(cluster) as client:
            remote = search(index, query, top=12, shortlist=5, executor=client)
        capsys.readouterr()
        assert main(["search", str(index.path), str(tmp_path / "query.x3p"), "--top", "12", "--shortlist", "5",
                     "--json", "--dask", cluster.scheduler_address]) == 0
        by_cli = json.loads(capsys.readouterr().out)["candidates"]
    assert [c["entry_id"] for c in by_cli] == [c.entry_id for c in local.candidates]
    assert len(local.candidates) == 12 and local.shortlist == 5
    assert [c.entry_id for c in remote.candidates] == [c.entry_id for c in local.candidates]
    assert [c.first_pass_score for c in remote.candidates] == [c.first_pass_score for c in local.candidates]
    assert [c.score for c in remote.candidates] == [c.score for c in local.candidates]
    # The first five were re-ranked by CMC, in decreasing score; the rest follow the first pass.
    scores = [c.score for c in local.candidates]
    assert all(s is not None for s in scores[:5]) and scores[:5] == sorted(scores[:5], reverse=True)
    assert all(s is None for s in scores[5:])
    rest = [c.first_pass_score for c in local.candidates[5:]]
    assert rest == sorted(rest, reverse=True)


def test_rotated_copy_of_an_entry_is_found_first(synthetic_index, pool):
    index, _ = synthetic_index
    entry = next(index.entries())
    stored = ix.load_surface(index, entry)
    query = warp(stored, Alignment(141.0, 0, 0, 0, 0), stored.shape)  # store_factor 1: same pixel size
    result = search(index, query, top=3, shortlist=3, executor=pool)
    assert result.candidates[0].entry_id == entry.id and result.candidates[0].first_pass_rank == 1
    assert result.timings.total_s >= result.timings.first_pass_s + result.timings.rerank_s - 1e-6


def test_an_excluded_entry_is_neither_compared_nor_returned(synthetic_index, pool):
    """A query already in the index (as a web entry is when it is searched) leaves itself out."""
    index, _ = synthetic_index
    entry = next(index.entries())
    query = ix.load_surface(index, entry)
    result = search(index, query, top=len(index), shortlist=len(index), executor=pool, exclude={entry.id})
    assert entry.id not in {c.entry_id for c in result.candidates}
    assert len(result.candidates) == result.shortlist == len(index) - 1  # every other entry compared once
    assert sorted(c.first_pass_rank for c in result.candidates) == list(range(1, len(index)))
    best = result.candidates[0]
    assert best.metadata["firearm"] == entry.metadata["firearm"] and best.score < 1.0  # a mate, not itself
    assert [c.rank for c in result.candidates] == list(range(1, len(index)))


def test_first_pass_ranks_every_entry_by_its_rotation_score_however_the_shards_are_split(synthetic_index, pool,
                                                                                         tmp_path):
    """The first pass (no re-rank) is the order of the rotation scores over all entries, ties by position."""
    from concurrent.futures import ThreadPoolExecutor

    from ballistics.descriptor import describe, rotation_scores

    source, query = synthetic_index
    # Five shards of up to four: one thread scores them in groups of two, the pool of two one by one.
    index = ix.create_index(tmp_path / "fours", pixel_size=PIXEL, shard_size=4, store_factor=1)
    index = ix.add(index, [ix.NewEntry(ix.load_surface(source, e), file=e.file, id=e.id) for e in source.entries()])
    descriptor = describe(ix.stored_form(index, query), params=index.descriptor)
    scores = np.concatenate([rotation_scores(ix.read_descriptors(index, s), descriptor, params=index.descriptor)
                             for s in index.shards])
    ids = [e.id for e in index.entries()]
    expected = [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-scores[i], i))]
    with ThreadPoolExecutor(1) as one:
        by_one = search(index, query, top=len(index), shortlist=0, executor=one)
    by_pool = search(index, query, top=len(index), shortlist=0, executor=pool)
    for result in (by_one, by_pool):
        assert [c.entry_id for c in result.candidates] == expected
        assert [c.first_pass_rank for c in result.candidates] == list(range(1, len(index) + 1))
        assert_allclose([c.first_pass_score for c in result.candidates], sorted(scores, reverse=True))
    # A top shorter than a shard keeps the best rows of each shard, not the first ones.
    with ThreadPoolExecutor(1) as one:
        for top in (1, 2, 3, 5):
            assert [c.entry_id for c in search(index, query, top=top, shortlist=0, executor=one).candidates] == \
                expected[:top]


def test_calibration_gives_a_likelihood_ratio(synthetic_index, pool):
    from ballistics.scoring import fit_calibration

    index, query = synthetic_index
    cal = fit_calibration([0.1, 0.2, 0.3, 0.5, 0.7, 0.9], [0, 0, 0, 1, 1, 1])
    result = search(index, query, top=4, shortlist=2, executor=pool, calibration=cal)
    assert [c.log10_lr is not None for c in result.candidates] == [True, True, False, False]


# --------------------------------------------------------------------------------------------------
# Acceptance 4: corrupt files are named, then refused or skipped; never a silent wrong answer
# --------------------------------------------------------------------------------------------------

def test_corrupt_shard_is_refused_or_skipped(synthetic_index, tmp_path, pool):
    index = _copy(synthetic_index[0], tmp_path)
    query = synthetic_index[1]
    bad = index.shards[0]
    path = index.shard_path(bad, "desc.npy")
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(ix.IndexCorruptError, match=bad.name):
        search(index, query, top=5, shortlist=0, executor=pool)
    result = search(index, query, top=20, shortlist=0, executor=pool, on_corrupt="skip")
    assert len(result.skipped) == 1 and bad.name in result.skipped[0]
    lost = {e.id for e in ix.read_entries(index, bad)}
    assert len(result.candidates) == len(index) - bad.count and not lost & {c.entry_id for c in result.candidates}


def test_corrupt_entry_is_refused_or_skipped(synthetic_index, tmp_path, pool):
    index = _copy(synthetic_index[0], tmp_path)
    query = synthetic_index[1]
    ranking = search(index, query, top=3, shortlist=3, executor=pool)
    victim = next(e for e in index.entries() if e.id == ranking.candidates[0].entry_id)
    (index.path / victim.surface_file).write_bytes(b"not a surface")
    with pytest.raises(ix.IndexCorruptError, match=victim.id):
        search(index, query, top=3, shortlist=3, executor=pool)
    result = search(index, query, top=3, shortlist=3, executor=pool, on_corrupt="skip")
    assert victim.id in result.skipped[0] and victim.id not in {c.entry_id for c in result.candidates}


def test_search_on_a_snapshot_older_than_a_write_uses_the_new_manifest(synthetic_index, tmp_path, pool):
    index = _copy(synthetic_index[0], tmp_path)
    extra = list(synthetic_set(1, 2, seed=99, shape=(64, 64)))
    # The add rewrites the last (partial) shard under a new name and deletes the old file.
    newer = ix.add(index, [ix.NewEntry(s, file=n, metadata={"firearm": "new"}, id=f"new-{n}") for n, _, s in extra])
    assert not index.shard_path(index.shards[-1], "desc.npy").exists()
    for on_corrupt in ("raise", "skip"):
        result = search(index, synthetic_index[1], top=30, shortlist=0, executor=pool, on_corrupt=on_corrupt)
        assert result.index_size == len(newer) == len(result.candidates) and result.skipped == ()


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------

def test_queries_of_another_pixel_size_or_raw_are_taken(synthetic_index, pool):
    """Only unusable queries are refused: another pixel size is resampled, a raw scan preprocessed."""
    index, query = synthetic_index
    for other in (query.with_heights(query.heights, pixel_size=6.26e-6),
                  query.with_heights(query.heights, processed=False)):
        result = search(index, other, top=3, shortlist=0, executor=pool)
        assert len(result.candidates) == 3


def test_bad_queries_and_indexes_are_refused(synthetic_index, tmp_path, pool):
    index, query = synthetic_index
    with pytest.raises(ValueError, match="holds topography"):
        search(index, query.with_heights(query.heights, kind="image"), executor=pool)
    with pytest.raises(ValueError, match="fewer than 16 valid points"):
        search(index, query.with_heights(np.full(query.shape, np.nan)), executor=pool)
    with pytest.raises(ValueError, match="top must be"):
        search(index, query, top=0, executor=pool)
    with pytest.raises(ValueError, match="on_corrupt"):
        search(index, query, on_corrupt="ignore", executor=pool)  # type: ignore[arg-type]
    empty = ix.create_index(tmp_path / "empty", pixel_size=PIXEL)
    with pytest.raises(ValueError, match="is empty"):
        search(empty, query, executor=pool)
    with pytest.raises(FileNotFoundError, match="no index directory"):
        search(tmp_path / "missing", query, executor=pool)


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------

def test_cli_synth_build_search_json(tmp_path, capsys):
    scans, index = tmp_path / "scans", tmp_path / "index"
    assert main(["synth", "--n", "8", "--size", "64", "--quiet", str(scans)]) == 0
    assert main(["index", "build", str(index), str(scans / "manifest.csv"), "--store-factor", "1", "--quiet"]) == 0
    assert main(["index", "verify", str(index)]) == 0
    capsys.readouterr()
    assert main(["search", str(index), str(scans / "F0001-S00.x3p"), "--top", "3", "--shortlist", "2",
                 "--workers", "1", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    best = doc["candidates"][0]
    assert best["file"] == "F0001-S00.x3p" and best["metadata"]["firearm"] == "F0001"
    assert {"entry_id", "first_pass_score", "score", "high_cmc", "log10_lr"} <= best.keys()
    assert doc["index_size"] == 8 and len(doc["candidates"]) == 3 and doc["timings"]["total_s"] > 0
    assert main(["index", "info", str(index), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["entries"] == 8


@pytest.mark.parametrize("argv, message", [
    (["index", "info", "{tmp}/missing"], "no index directory"),
    (["search", "{tmp}/missing", "{tmp}/q.x3p"], "no index directory"),
    (["index", "build", "{tmp}/new", "{tmp}/none.csv"], "manifest not found"),
    (["index", "remove", "{tmp}/idx", "nope"], "not in the index: nope"),
    (["index", "add", "{tmp}/idx", "{tmp}/none.x3p"], "file not found"),
    (["search", "{tmp}/idx", "{tmp}/q.x3p", "--dask", "tcp://127.0.0.1:9"], "cannot reach the Dask scheduler"),
])
def test_cli_bad_input_is_one_line_without_traceback(tmp_path, capsys, argv, message):
    ix.create_index(tmp_path / "idx", pixel_size=PIXEL)
    scan = next(synthetic_set(1, 1, seed=0, shape=(48, 48)))[2]
    from ballistics.io import write_x3p

    write_x3p(scan, tmp_path / "q.x3p")
    if argv[0] == "search" and "--dask" in argv:
        ix.add(tmp_path / "idx", [ix.NewEntry(scan)])
    assert main([a.format(tmp=tmp_path) for a in argv]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err
