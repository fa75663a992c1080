"""orbitshare.kernels: Numba functions on NumPy arrays (km, s, rad, Mbps; time as (jd, fr) pairs).

No xarray, no Skyfield objects, no I/O, no globals; kernels import only ``orbitshare._jit``,
``orbitshare.constants``, ``orbitshare.errors`` and each other. (Not to be confused with the top-level
``kernels/`` folder, which holds *data* kernels for Skyfield.)

* ``sgp4``, ``sgp4_deep``: SGP4/SDP4 propagation (TEME); ``frames``: GMST, TEME → ITRS
* ``footprint``: the exact per-cell visibility test and the per-row footprint walk (scalar helpers
  shared by the CPU and CUDA kernels)
* ``capacity``: sharing each satellite's capacity among the cells it sees, by weight
* ``visibility``: the chunk kernel (:func:`~orbitshare.kernels.visibility.accumulate_chunk`)
* ``chunkstate``: the per-cell statistics of a chunk (``ChunkState``) and their exact merge
* ``inequality``: inequality indices
* ``cuda`` (imports ``numba.cuda``), ``cuda_env`` (detection and the NumPy shim, imports nothing
  heavy): the GPU backend

Numba's on-disk cache (``cache=True``) checks only the source file of the function it compiled: after
editing a helper in one module (say ``footprint``), a kernel in another module that inlines it (say
``visibility``) keeps its cached machine code until its own file changes. Clear the kernels'
``__pycache__`` (or touch the calling module) after such an edit.
"""
