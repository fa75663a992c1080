"""The one comparison of a backend's pass state with the CPU engine's, for the cpu/dask/cuda tests."""

import numpy as np

from orbitshare.kernels.chunkstate import ChunkState

#: the float fields of a ChunkState (capacity sums); every other field is an integer statistic
CAPACITY_FIELDS = ("capacity_sum", "delivered", "offered")


def assert_backends_equal(
    state: ChunkState, reference: ChunkState, *, capacity_rtol: float = 0.0, integers: bool = True
) -> None:
    """``state`` (from a backend) equals the CPU ``reference``.

    Integer statistics and counts: same fields present, same dtype and shape, identical values
    (skipped with ``integers=False``: a GPU's SGP4 positions differ from the CPU's in the last bits,
    so its counts are compared on the same positions elsewhere). Capacity sums: bit-identical when
    ``capacity_rtol`` is 0 (the Dask backend: the same time blocks), else within ``capacity_rtol``
    relative with the cells at exactly 0 where the reference has them (the GPU's double-double atomics);
    where the reference has capacity, delivered equals offered at every step (conservation)."""
    assert state.nsteps == reference.nsteps
    for name in ChunkState._fields[1:]:
        if not integers and name not in CAPACITY_FIELDS:
            continue
        x, y = getattr(state, name), getattr(reference, name)
        assert (x is None) == (y is None), name
        if x is None:
            continue
        assert x.dtype == y.dtype and x.shape == y.shape, name
        if name in CAPACITY_FIELDS and capacity_rtol > 0:
            np.testing.assert_allclose(x, y, rtol=capacity_rtol, atol=0, err_msg=name)
            if name == "capacity_sum":  # a cell no satellite serves gets exactly nothing, on both
                np.testing.assert_array_equal(x == 0, y == 0, err_msg=name)
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)
            assert x.tobytes() == y.tobytes(), name  # bits: also -0.0 vs 0.0
    if reference.delivered is not None and reference.offered is not None:
        np.testing.assert_allclose(reference.delivered, reference.offered, rtol=1e-12)
