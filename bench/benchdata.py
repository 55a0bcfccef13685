"""What the search benchmarks share: synthetic shots of synthetic firearms, and the CPU a pool spent.

Scripts run as `python bench/<script>.py`, so this folder is on the path and `from benchdata import
synthetic_shots` finds this module.
"""
from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np

from ballistics.surface import Surface
from ballistics.synth import firearm_signature, shot


def synthetic_shots(start: int, stop: int, *, seed: int, shape: tuple[int, int], pixel_size: float,
                    shots_per_firearm: int = 4, jitter_px: float = 0.0) -> Iterator[tuple[int, int, int, Surface]]:
    """(number, firearm, shot, surface) for entries ``start..stop``: shot ``s`` of firearm ``f`` is entry
    ``shots_per_firearm * f + s``, turned at random, marked at random, shifted by up to ``jitter_px``."""
    signature, current = None, -1
    for number in range(start, stop):
        firearm, s = divmod(number, shots_per_firearm)
        if firearm != current:
            signature, current = firearm_signature((seed, firearm), shape=shape, pixel_size=pixel_size), firearm
        draws = np.random.default_rng((seed, firearm, s, 1))
        rotation, marking = float(draws.uniform(-180, 180)), float(draws.uniform(0.6, 1.0))
        shift = tuple(draws.uniform(-jitter_px, jitter_px, 2)) if jitter_px else (0.0, 0.0)
        yield number, firearm, s, shot(signature, seed=(seed, firearm, s), rotation_deg=rotation, marking=marking,
                                       shift_px=shift)


def pool_cpu_seconds(pool: object) -> float:
    """CPU time of this process and of the pool's workers: what a search costs whatever the machine's load."""
    import psutil

    total = time.process_time()
    for process in getattr(pool, "_processes", {}).values():
        try:
            times = psutil.Process(process.pid).cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total
