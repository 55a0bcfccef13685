"""The `Surface` value shared by every stage of the ballistics pipeline."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Hashable, Literal, Mapping

import numpy as np

SurfaceKind = Literal["topography", "image"]


@dataclass(frozen=True, eq=False)
class Surface:
    """A measured surface: a height map (topography) or a grey-level photograph (image).

    Parameters
    ----------
    heights : ndarray of float64, shape (rows, cols)
        Heights in metres for a topography, grey levels scaled to [0, 1] for an image.
        Missing points are NaN; row 0 is the first Y line (X3P order, reshaped to (SizeY, SizeX)).
    pixel_size : float
        Lateral spacing between neighbouring points, in metres (the X3P unit).
    kind : {"topography", "image"}
        What the values mean.
    processed : bool
        True once the surface has been through `ballistics.preprocess` (or was loaded from a
        file already processed, such as the shared Fadul scans). Preprocessing refuses to run
        twice on the same surface unless told to.
    metadata : mapping
        Free-form provenance (file name, instrument, creator, dates), read-only.

    The array is made read-only on construction so that no stage can change its input in place.
    """

    heights: np.ndarray
    pixel_size: float
    kind: SurfaceKind = "topography"
    processed: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        heights = np.array(self.heights, dtype=np.float64, copy=True)
        if heights.ndim != 2 or min(heights.shape) == 0:
            raise ValueError(f"a surface needs a non-empty 2-D height array, got shape {heights.shape}")
        if not np.isfinite(self.pixel_size) or self.pixel_size <= 0:
            raise ValueError(f"pixel size must be a positive number of metres, got {self.pixel_size!r}")
        if self.kind not in ("topography", "image"):
            raise ValueError(f"surface kind must be 'topography' or 'image', got {self.kind!r}")
        # Any NaN payload (including R's signalling NaN) becomes the canonical quiet NaN,
        # so np.nanmin and friends behave.
        heights[np.isnan(heights)] = np.nan
        heights.setflags(write=False)
        object.__setattr__(self, "heights", heights)
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle through the constructor (the read-only metadata view cannot be pickled itself),
        so surfaces travel to process-pool and Dask workers."""
        return (type(self), (np.asarray(self.heights), self.pixel_size, self.kind, self.processed,
                             dict(self.metadata)))

    @property
    def mask(self) -> np.ndarray:
        """Validity mask: True where a height was measured (a new array, free to change)."""
        return self.valid.copy()

    @property
    def valid(self) -> np.ndarray:
        """The validity mask computed once, read-only like the heights (no copy: for the many reads of
        a comparison, where testing the heights for NaN again each time took a tenth of the time)."""
        cached = self.__dict__.get("_valid")
        if cached is None:
            cached = ~np.isnan(self.heights)
            cached.setflags(write=False)
            object.__setattr__(self, "_valid", cached)
        return cached

    def derived(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """A value computed from this surface once and kept with it (the surface never changes), such as
        the cells of a comparison: a scan compared with many others is prepared once. ``key`` names
        the value and everything else it depends on."""
        cache = self.__dict__.setdefault("_derived", {})
        if key not in cache:
            cache[key] = compute()
        return cache[key]

    @property
    def shape(self) -> tuple[int, int]:
        return self.heights.shape  # type: ignore[return-value]

    @property
    def pixel_size_um(self) -> float:
        return self.pixel_size * 1e6

    @property
    def valid_fraction(self) -> float:
        return float(self.valid.mean())

    def with_heights(self, heights: np.ndarray, **changes: Any) -> "Surface":
        """A new surface with other heights (and optionally other fields), same provenance."""
        return replace(self, heights=heights, **changes)
