"""orbitshare.kernels.vecmath: branch-free sin/cos, fmod(x, 2 pi) and sqrt.

References: ``math.sin``/``math.cos`` (glibc), exact values from a rational pi and Decimal Taylor
series, C ``fmod`` through ``np.fmod``, ``math.sqrt``. The intrinsics run inside small jitted
loops (the only way to call them), compiled here without cache so their machine code can be read.
"""

import math
import platform
from decimal import Decimal, getcontext
from fractions import Fraction

import numba
import numpy as np
import pytest

from orbitshare.kernels import vecmath as vm


def _jit(fn):
    return numba.njit(cache=False, error_model="numpy")(fn)


@_jit
def _sincos_loop(x, s, c):
    for i in range(x.shape[0]):
        a, b = vm.sincos(x[i])
        s[i] = a
        c[i] = b


@_jit
def _fmod_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = vm.fmod2pi(x[i])


@_jit
def _sqrt_loop(x, out):
    for i in range(x.shape[0]):
        out[i] = vm.sqrt(x[i])


def sincos(x):
    x = np.ascontiguousarray(x, dtype=np.float64)
    s = np.empty_like(x)
    c = np.empty_like(x)
    _sincos_loop(x, s, c)
    return s, c


def _ulps(a, ref):
    return np.abs(a - ref) / np.spacing(np.abs(ref))


def _arctan_inv(n):
    """arctan(1/n) as a Fraction, to 1e-75."""
    s = Fraction(0)
    k = 0
    while True:
        term = Fraction((-1) ** k, (2 * k + 1) * n ** (2 * k + 1))
        s += term
        k += 1
        if abs(term) < Fraction(1, 10**75):
            return s


PI = 16 * _arctan_inv(5) - 4 * _arctan_inv(239)  # Machin


def test_reduction_constants_from_exact_pi():
    assert float(PI) == math.pi
    p1, p2, p3 = Fraction(vm.P1), Fraction(vm.P2), Fraction(vm.P3)
    assert p1 == Fraction(math.floor(PI / 2 * 2**27), 2**27)  # pi/2 truncated to 28 bits
    assert p1.numerator < 2**28 and p2.numerator < 2**25  # significant bits (odd numerators)
    assert p2 == Fraction(round((PI / 2 - p1) * 2**55), 2**55)  # the next bits, rounded
    assert abs(float(PI / 2 - (p1 + p2 + p3))) < 1e-34
    # k * P1 and k * P2 are exact for |k| < 2**25
    k = 2**25 - 1
    assert Fraction(k * vm.P1) == k * p1 and Fraction(k * vm.P2) == k * p2
    assert vm.S[0] == -1.0 / 6.0 and vm.S[-1] == 1.0 / math.factorial(17)
    assert vm.C[0] == 1.0 / 24.0 and vm.C[-1] == 1.0 / math.factorial(16)


@pytest.mark.parametrize(
    "label,x",
    [
        ("dense [-20, 20]", np.linspace(-20.0, 20.0, 400_001)),
        ("small", np.random.default_rng(1).uniform(-1e-3, 1e-3, 200_000)),
        ("mean anomalies, 1e4", np.random.default_rng(2).uniform(-1e4, 1e4, 200_000)),
        ("1e6", np.random.default_rng(3).uniform(-1e6, 1e6, 200_000)),
        ("5e7", np.random.default_rng(4).uniform(-5e7, 5e7, 200_000)),
        ("octants", np.arange(-4000, 4000) * (math.pi / 4)),
    ],
)
def test_sincos_against_math(label, x):
    s, c = sincos(x)
    s_ref = np.array([math.sin(t) for t in x])
    c_ref = np.array([math.cos(t) for t in x])
    assert np.abs(s - s_ref).max() <= 1.2e-16, label
    assert np.abs(c - c_ref).max() <= 1.2e-16, label
    # relative error, except for tiny values left by the reduction near multiples of pi/2
    near = np.abs(x) < 0.5
    big = (np.abs(s_ref) > 1e-3) | near
    assert _ulps(s[big], s_ref[big]).max() <= 2.0, label
    big = (np.abs(c_ref) > 1e-3) | near
    assert _ulps(c[big], c_ref[big]).max() <= 2.0, label


def test_sincos_against_exact_values():
    """Within 2 ulp of the exact value (Decimal Taylor series after an exact reduction by rational pi)."""
    getcontext().prec = 60
    two_pi = Decimal(PI.numerator) / Decimal(PI.denominator) * 2
    rng = np.random.default_rng(5)
    xs = np.concatenate([rng.uniform(-10.0, 10.0, 150), rng.uniform(-3e4, 3e4, 150)])
    s, c = sincos(xs)
    for x, si, ci in zip(xs.tolist(), s, c, strict=True):
        y = Decimal(x) % two_pi  # Decimal(x) is the double exactly
        term, ssum, csum, k = y, Decimal(0), Decimal(0), 1
        cterm = Decimal(1)
        while abs(term) > Decimal(10) ** -50 or abs(cterm) > Decimal(10) ** -50:
            ssum += term
            csum += cterm
            term = -term * y * y / ((2 * k) * (2 * k + 1))
            cterm = -cterm * y * y / ((2 * k - 1) * (2 * k))
            k += 1
        es, ec = float(ssum), float(csum)  # correctly rounded
        assert abs(si - es) <= 2.0 * np.spacing(abs(es)), x
        assert abs(ci - ec) <= 2.0 * np.spacing(abs(ec)), x


def test_sincos_special_values():
    x = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e15, -2e20, 9e14])
    s, c = sincos(x)
    assert s[0] == 0.0 and c[0] == 1.0 and c[1] == 1.0
    assert np.isnan(s[2:7]).all() and np.isnan(c[2:7]).all()
    assert np.isfinite(s[7]) and abs(s[7] ** 2 + c[7] ** 2 - 1.0) < 1e-15


def test_python_mirror_is_the_same_arithmetic():
    x = np.concatenate([np.linspace(-7.0, 7.0, 2001), np.random.default_rng(6).uniform(-1e6, 1e6, 2000)])
    s, c = sincos(x)
    py = np.array([vm.sincos_py(t) for t in x.tolist()])
    np.testing.assert_array_equal(py[:, 0], s)
    np.testing.assert_array_equal(py[:, 1], c)


def test_fmod2pi_is_c_fmod():
    rng = np.random.default_rng(8)
    k = np.arange(-20000, 20000, dtype=np.float64)
    x = np.concatenate(
        [
            rng.uniform(-4e8, 4e8, 200_000),
            rng.uniform(-50.0, 50.0, 200_000),
            k * (2.0 * math.pi),  # multiples: the quotient is one off on either side
            np.nextafter(k * (2.0 * math.pi), np.inf),
            np.nextafter(k * (2.0 * math.pi), -np.inf),
            [0.0, -0.0, 2.0 * math.pi, -2.0 * math.pi, 1e-300],
        ]
    )
    out = np.empty_like(x)
    _fmod_loop(x, out)
    np.testing.assert_array_equal(out, np.fmod(x, 2.0 * math.pi))
    special = np.array([np.nan, np.inf, -np.inf, 1e16])
    out = np.empty_like(special)
    _fmod_loop(special, out)
    assert np.isnan(out[:3]).all() and out[3] == 0.0


def test_sqrt():
    x = np.concatenate([np.random.default_rng(9).uniform(0.0, 1e6, 10_000), [0.0, 4.0, -1e-300, -4.0, np.nan, np.inf]])
    out = np.empty_like(x)
    _sqrt_loop(x, out)
    ref = np.array([math.sqrt(t) if t >= 0.0 else math.nan for t in x])
    np.testing.assert_array_equal(out, ref)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="reads x86 assembly")
def test_a_loop_of_sincos_runs_on_simd_lanes():
    sincos(np.zeros(8))
    asm = next(iter(_sincos_loop.inspect_asm().values()))
    # packed double-precision multiplies (SSE2 xmm, AVX ymm or AVX-512 zmm): the loop is vectorised
    assert "mulpd" in asm
    assert "call" not in "\n".join(line for line in asm.splitlines() if "mulpd" in line)
