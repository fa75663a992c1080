"""orbitshare.kernels: Numba functions on NumPy arrays (km, s, rad; time as (jd, fr) pairs).

No xarray, no Skyfield objects, no I/O, no globals. (Not to be confused with the top-level
``kernels/`` folder, which holds *data* kernels for Skyfield.)
"""
