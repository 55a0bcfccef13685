"""ballistics.index: round trips, integrity checks, bad input, and crash safety under SIGKILL."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from ballistics import index as ix
from ballistics.descriptor import DescriptorParams, describe, rotation_scores
from ballistics.registration import Alignment, warp
from ballistics.surface import Surface
from ballistics.synth import synthetic_set

ROOT = Path(__file__).resolve().parents[2]
PIXEL = 6.25e-6


@pytest.fixture
def make_entries():
    """Factory: ``n`` synthetic entries (64 x 64), named and tagged with their firearm."""
    def make(n: int, *, seed: int = 0, shots: int = 3, shape: tuple[int, int] = (64, 64)) -> list[ix.NewEntry]:
        scans = list(synthetic_set(-(-n // shots), shots, seed=seed, shape=shape))[:n]
        return [ix.NewEntry(s, file=f"{name}.x3p", metadata={"firearm": firearm}, id=name)
                for name, firearm, s in scans]
    return make


@pytest.fixture
def new_index(tmp_path):
    def make(**options):
        return ix.create_index(tmp_path / "index", pixel_size=PIXEL, **{"shard_size": 4, **options})
    return make


# --------------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------------

def test_added_entries_read_back_as_stored(new_index, make_entries):
    entries = make_entries(10)
    index = ix.add(new_index(store_factor=2), entries)
    assert len(index) == 10 and [s.count for s in index.shards] == [4, 4, 2]
    stored = {e.id: e for e in index.entries()}
    for item in entries:
        entry = stored[item.id]
        assert entry.file == item.file and dict(entry.metadata) == {"firearm": item.metadata["firearm"]}
        expected = ix.stored_form(index, item.surface)
        got = ix.load_surface(index, entry)
        assert got.pixel_size == pytest.approx(2 * PIXEL) and got.shape == expected.shape == (32, 32)
        assert np.array_equal(got.mask, expected.mask)
        # int16 quantisation: within half a step of 1/32767 of the largest height.
        step = np.nanmax(np.abs(expected.heights)) / 32767
        assert_allclose(got.heights[got.mask], expected.heights[expected.mask], atol=0.51 * step, rtol=0)
    assert ix.open_index(index.path) == index


def test_adds_in_several_calls_top_up_the_last_shard(new_index, make_entries):
    entries = make_entries(9)
    index = new_index()
    for start in (0, 3, 5):
        index = ix.add(index, entries[start:start + {0: 3, 3: 2, 5: 4}[start]])
    assert [s.count for s in index.shards] == [4, 4, 1]
    assert [e.id for e in index.entries()] == [e.id for e in entries]
    names = sorted(p.name for p in (index.path / "shards").iterdir())
    assert len(names) == 6, "the replaced versions of the last shard must be deleted"


def test_entry_ids_and_chosen_rows_of_a_shard(new_index, make_entries):
    index = ix.add(new_index(), make_entries(10))
    everything = list(index.entries())
    assert ix.entry_ids(index) == {e.id for e in everything} and len(ix.entry_ids(index)) == 10
    second = index.shards[1]
    rows = ix.read_entries(index, second)
    assert ix.read_entries(index, second, rows=[3, 0]) == [rows[3], rows[0]]
    with pytest.raises(ix.IndexCorruptError, match="holds 4 entries"):
        ix.read_entries(index, second, rows=[4])


def test_remove_then_rebuild_keeps_the_rest_intact(new_index, make_entries):
    entries = make_entries(10)
    index = ix.add(new_index(), entries)
    before = _descriptors_by_id(index)
    gone = [entries[1].id, entries[4].id, entries[5].id, entries[6].id, entries[7].id]
    index = ix.remove(index, gone)
    assert [e.id for e in index.entries()] == [e.id for e in entries if e.id not in gone]
    assert [s.count for s in index.shards] == [3, 2]
    assert not any((index.path / "surfaces" / i[:2] / f"{i}.npy").exists() for i in gone)
    index = ix.rebuild(index)
    assert [s.count for s in index.shards] == [4, 1]
    after = _descriptors_by_id(index)
    assert after.keys() == before.keys() - set(gone)
    for key, row in after.items():
        assert np.array_equal(row, before[key]), "descriptors are recomputed from the stored surfaces"
    assert ix.verify(index).ok


def _descriptors_by_id(index: ix.Index) -> dict[str, np.ndarray]:
    out = {}
    for shard in index.shards:
        rows = np.asarray(ix.read_descriptors(index, shard))
        for entry, row in zip(ix.read_entries(index, shard), rows, strict=True):
            out[entry.id] = row
    return out


def test_rebuild_removes_files_left_by_an_interrupted_write(new_index, make_entries):
    index = ix.add(new_index(), make_entries(3))
    stray = index.path / "surfaces" / "zz" / "zz-never-committed.npy"
    stray.parent.mkdir()
    stray.write_bytes(b"partial")
    (index.path / "shards" / ".000009-00000009.desc.npy.123.tmp").write_bytes(b"partial")
    report = ix.verify(index)
    assert report.ok and len(report.orphans) == 2
    ix.rebuild(index)
    assert ix.verify(index.path).orphans == ()


def test_calibration_is_stored_with_the_index(new_index):
    from ballistics.scoring import fit_calibration

    cal = fit_calibration([0.1, 0.2, 0.3, 0.7, 0.8, 0.9], [0, 0, 0, 1, 1, 1])
    index = ix.set_calibration(new_index(), cal)
    assert ix.open_index(index.path).calibration == cal


# --------------------------------------------------------------------------------------------------
# Descriptor
# --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("angle", [0.0, 37.0, -123.0, 180.0])
def test_first_pass_score_is_rotation_invariant(make_entries, angle):
    entries = make_entries(6, shape=(128, 128))
    params = DescriptorParams()
    stored = np.stack([describe(e.surface, params=params) for e in entries])
    query = entries[0].surface
    turned = warp(query, Alignment(angle, 0.0, 0.0, 0.0, 0), query.shape)
    scores = rotation_scores(stored, describe(turned, params=params), params=params)
    assert scores[0] > 0.9, f"a rotated copy must score near 1, got {scores[0]:.3f}"
    assert scores[0] == scores.max()


# --------------------------------------------------------------------------------------------------
# Integrity and bad input
# --------------------------------------------------------------------------------------------------

def test_verify_names_a_corrupt_shard_and_entry(new_index, make_entries):
    index = ix.add(new_index(), make_entries(6))
    shard = index.shards[1]
    _flip_byte(index.shard_path(shard, "desc.npy"))
    entry = next(index.entries())
    _flip_byte(index.path / entry.surface_file)
    report = ix.verify(index)
    assert not report.ok and len(report.problems) == 2
    assert any(shard.name in p for p in report.problems)
    assert any(entry.id in p for p in report.problems)
    with pytest.raises(ix.IndexCorruptError, match=entry.id):
        ix.load_surface(index, entry)


def _flip_byte(path: Path, offset: int = -3) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_coarser_scan_is_stored_at_the_index_pixel_size(new_index, make_entries):
    index = new_index()
    entry = make_entries(1)[0]
    coarse = entry.surface.with_heights(entry.surface.heights, pixel_size=2 * PIXEL)
    index = ix.add(index, [ix.NewEntry(coarse, id="coarse")])
    stored = ix.load_surface(index, next(index.entries()))
    assert stored.pixel_size == index.stored_pixel_size
    assert stored.shape[0] == pytest.approx(2 * coarse.shape[0] / index.store_factor, abs=1)


def test_bad_input_gives_clear_errors(tmp_path, new_index, make_entries):
    with pytest.raises(FileNotFoundError, match="no index directory"):
        ix.open_index(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="index.json is missing"):
        ix.open_index(tmp_path / "empty")
    index = new_index()
    with pytest.raises(FileExistsError):
        ix.create_index(index.path, pixel_size=PIXEL)
    entry = make_entries(1)[0]
    empty = entry.surface.with_heights(np.full(entry.surface.shape, np.nan))
    with pytest.raises(ValueError, match="fewer than 16 valid points"):
        ix.add(index, [ix.NewEntry(empty)])
    image = entry.surface.with_heights(entry.surface.heights, kind="image")
    with pytest.raises(ValueError, match="holds topography surfaces"):
        ix.add(index, [ix.NewEntry(image)])
    ix.add(index, [entry])
    with pytest.raises(ValueError, match="already in the index"):
        ix.add(index, [entry])
    with pytest.raises(KeyError, match="nope"):
        ix.remove(index, ["nope"])
    (index.path / "index.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ix.IndexCorruptError, match="unreadable"):
        ix.open_index(index.path)


# --------------------------------------------------------------------------------------------------
# Crash safety: SIGKILL while adding
# --------------------------------------------------------------------------------------------------

_WRITER = textwrap.dedent("""
    import sys
    from ballistics import index as ix
    from ballistics.synth import synthetic_set
    path, n = sys.argv[1], int(sys.argv[2])
    scans = list(synthetic_set(-(-n // 3), 3, seed=7, shape=(48, 48)))[:n]
    index = ix.open_index(path)
    have = {e.id for e in index.entries()}
    print("ready", flush=True)
    for name, firearm, s in scans:
        if name not in have:
            # One entry per commit: the most commits, hence the most places to be killed.
            index = ix.add(index, [ix.NewEntry(s, file=name, metadata={"firearm": firearm}, id=name)], batch=1)
    print("done", flush=True)
""")


def test_sigkill_while_adding_leaves_whole_entries_only(tmp_path):
    # Enough entries that every round still has work left when the kill comes, however fast the
    # machine (later rounds skip what earlier ones committed).
    n, rng = 120, np.random.default_rng(11)
    expected = {name: s for name, _, s in synthetic_set(40, 3, seed=7, shape=(48, 48))}
    order = list(expected)[:n]
    index = ix.create_index(tmp_path / "index", pixel_size=PIXEL, shard_size=5, store_factor=1)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    kills = 0
    for _ in range(6):
        child = subprocess.Popen([sys.executable, "-c", _WRITER, str(index.path), str(n)],
                                 stdout=subprocess.PIPE, text=True, env=env)
        assert child.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.4)))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait(timeout=60)
        child.stdout.close()
        _check_whole(index.path, order, expected)
    assert kills >= 3, "the writer finished before it could be killed: the test proves nothing"
    # A last uninterrupted run completes the set: the killed writers left no stale lock.
    subprocess.run([sys.executable, "-c", _WRITER, str(index.path), str(n)], check=True, env=env,
                   capture_output=True, timeout=120)
    assert [e.id for e in _check_whole(index.path, order, expected)] == order


def _check_whole(path: Path, order: list[str], expected: dict[str, Surface]) -> list[ix.Entry]:
    index = ix.open_index(path)
    report = ix.verify(index)
    assert report.ok, report.problems
    entries = list(index.entries())
    ids = [e.id for e in entries]
    assert ids == order[:len(ids)], "entries are committed in order, none lost in the middle"
    for entry in entries:
        got = ix.load_surface(index, entry)
        want = expected[entry.id]
        assert np.array_equal(got.mask, want.mask)
        step = np.nanmax(np.abs(want.heights)) / 32767
        assert_allclose(got.heights[got.mask], want.heights[want.mask], atol=0.51 * step, rtol=0)
    manifest = json.loads((path / "index.json").read_text(encoding="utf-8"))
    assert sum(s["count"] for s in manifest["shards"]) == len(entries)
    return entries
