"""Rasterising polygons onto regular sample grids: even-odd scanline fill and per-cell label counts.

Numba kernels on flat arrays (degrees of longitude/latitude for vertices; integer labels);
:class:`orbitshare.geo.parts.Polygons` and :func:`orbitshare.geo.parts.cell_counts` wrap them for the
geography builders.
"""

import math

import numpy as np

from orbitshare._jit import njit

__all__ = ["scanline_fill", "cell_label_counts"]


@njit
def scanline_fill(
    vx, vy, ring_start, poly_ring_start, poly_ymin, poly_ymax, poly_label, x0, dx, nx, y0, dy, row0, nrows, out, hits
):
    """Even-odd fill of polygons on a regular grid of sample points (scanline form of point-in-polygon).

    vx, vy : float64[nv]               vertices of all rings, concatenated (lon, lat degrees)
    ring_start : int64[nring + 1]       ring r is vertices ring_start[r]:ring_start[r+1] (closing edge implied)
    poly_ring_start : int64[npoly + 1]  polygon p is rings poly_ring_start[p]:poly_ring_start[p+1]
    poly_ymin, poly_ymax : float64[npoly]   latitude range of each polygon
    poly_label : int32[npoly]           value written for the samples inside polygon p
    sample (i, j) of ``out`` lies at x = x0 + (j + 0.5) dx, y = y0 + (row0 + i + 0.5) dy
    out : int16/int32[nrows, nx]        written in place where inside (later polygons overwrite)
    hits : int64[npoly]                 incremented by the number of samples filled by p

    A sample is inside when a ray to +x crosses an odd number of edges, each edge counted when
    min(ya, yb) <= y < max(ya, yb) (the half-open rule, so vertices are never counted twice), and
    x_sample >= x_crossing for the crossings to its left: exactly the even-odd point-in-polygon test.
    """
    npoly = poly_label.shape[0]
    for p in range(npoly):
        lo = max(math.ceil((poly_ymin[p] - y0) / dy - 0.5), row0)
        hi = min(math.floor((poly_ymax[p] - y0) / dy - 0.5), row0 + nrows - 1)
        if hi < lo:
            continue
        # pass 1: count crossings inside [lo, hi]
        ncross = 0
        for r in range(poly_ring_start[p], poly_ring_start[p + 1]):
            a, b = ring_start[r], ring_start[r + 1]
            for k in range(a, b):
                k2 = k + 1 if k + 1 < b else a
                ya, yb = vy[k], vy[k2]
                if ya == yb:
                    continue
                ymn, ymx = (ya, yb) if ya < yb else (yb, ya)
                r_lo = max(math.ceil((ymn - y0) / dy - 0.5), lo)
                r_hi = min(math.ceil((ymx - y0) / dy - 0.5) - 1, hi)
                if r_hi >= r_lo:
                    ncross += r_hi - r_lo + 1
        if ncross == 0:
            continue
        keys = np.empty(ncross, np.float64)
        m = 0
        for r in range(poly_ring_start[p], poly_ring_start[p + 1]):
            a, b = ring_start[r], ring_start[r + 1]
            for k in range(a, b):
                k2 = k + 1 if k + 1 < b else a
                xa, ya, xb, yb = vx[k], vy[k], vx[k2], vy[k2]
                if ya == yb:
                    continue
                ymn, ymx = (ya, yb) if ya < yb else (yb, ya)
                r_lo = max(math.ceil((ymn - y0) / dy - 0.5), lo)
                r_hi = min(math.ceil((ymx - y0) / dy - 0.5) - 1, hi)
                for row in range(r_lo, r_hi + 1):
                    y = y0 + (row + 0.5) * dy
                    x = xa + (y - ya) * (xb - xa) / (yb - ya)
                    xr = min(max(x - x0, -1.0), 1000.0)  # clamp: keys stay ordered by row
                    keys[m] = (row - row0) * 2048.0 + (xr + 1.0)
                    m += 1
        keys.sort()
        m = 0
        while m + 1 < ncross:
            row = int(keys[m] // 2048.0)
            row2 = int(keys[m + 1] // 2048.0)
            if row2 != row:  # cannot happen for closed rings; resynchronise defensively
                m += 1
                continue
            xa = keys[m] - row * 2048.0 - 1.0
            xb = keys[m + 1] - row * 2048.0 - 1.0
            ja = max(math.ceil(xa / dx - 0.5), 0)
            jb = min(math.ceil(xb / dx - 0.5), nx)
            for j in range(ja, jb):
                out[row, j] = poly_label[p]
            if jb > ja:
                hits[p] += jb - ja
            m += 2


@njit
def cell_label_counts(labels, n, nlabels, rows_out, cols_out, lab_out, cnt_out):
    """Count the labels (>= 0) of the n×n samples of each cell of a band.

    labels : int[nsr, nsc] with nsr = n * ncell_rows, nsc = n * ncells; -1 = no label.
    Writes (cell row, cell col, label, count) into the *_out arrays; returns the number written,
    or -1 when the output arrays are too small.
    """
    nr = labels.shape[0] // n
    nc = labels.shape[1] // n
    local = np.zeros(nlabels, np.int64)
    touched = np.empty(n * n, np.int64)
    cap = rows_out.shape[0]
    m = 0
    for ci in range(nr):
        for cj in range(nc):
            nt = 0
            for a in range(ci * n, ci * n + n):
                for b in range(cj * n, cj * n + n):
                    lab = labels[a, b]
                    if lab >= 0:
                        if local[lab] == 0:
                            touched[nt] = lab
                            nt += 1
                        local[lab] += 1
            for t in range(nt):
                lab = touched[t]
                if m >= cap:
                    return -1
                rows_out[m] = ci
                cols_out[m] = cj
                lab_out[m] = lab
                cnt_out[m] = local[lab]
                local[lab] = 0
                m += 1
    return m
