"""Branch-free sin/cos, fmod(x, 2 pi) and sqrt that LLVM can vectorise (no libm calls).

Numba here has no SVML, so ``math.sin``/``math.cos`` inside a loop are calls to libm and keep
the loop scalar; so is ``math.sqrt`` of an argument that may be negative (it may set errno).
These replacements are Numba intrinsics: they emit straight-line LLVM IR (selects, no branches,
no calls) into the calling function, so a loop that uses them runs on SIMD lanes, and they
cost no typing or inlining at compile time (an ``inline="always"`` function of the same
arithmetic took seconds per kernel). Callable from jitted code only; float64 arguments.

sincos(x) -> (sin x, cos x)
    Cody-Waite reduction by pi/2 with a three-part constant (``k * P1`` and ``k * P2`` exact
    for ``|k| < 2**25``, i.e. ``|x| < 5e7`` rad), then Taylor polynomials on ``|r| <= pi/4``:
    sin to degree 17, cos to degree 16 with the ``1 - r**2/2`` head formed in two parts. Within
    2 ulp of ``math.sin``/``math.cos`` for ``|x| < 5e7`` (and 1e-16 absolute), tested on dense
    and random arguments. Beyond the absolute error grows like ``|x| * 2**-53`` (the argument's
    own rounding); ``|x| >= 1e15``, NaN and infinities give NaN.
fmod2pi(x)
    C ``fmod(x, 2*pi)`` (remainder with the sign of ``x``), exact for ``|x| < 4e8`` rad: the
    numbers of :func:`orbitshare.kernels.sgp4_deep.fmod2pi`, without its branches.
sqrt(x)
    ``math.sqrt`` (NaN for ``x < 0``) as the SIMD instruction.

Constants: ``P1 + P2 + P3`` equals pi/2 to ~4e-35 (P1 = pi/2 truncated to 28 significant bits,
P2 the next bits rounded to 25 bits, P3 the rest rounded to double); ``tests/kernels/test_vecmath.py``
rebuilds them from an exact rational pi. The Taylor coefficients are 1/n! rounded to double.
:func:`sincos_py` is the same arithmetic in Python (the tests compare both).
"""

import math
from typing import Any

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from orbitshare.constants import TWOPI
from orbitshare.kernels.sgp4_deep import INV_TWOPI, TWOPI_HI, TWOPI_LO

__all__ = ["sincos", "fmod2pi", "sqrt", "sincos_py", "P1", "P2", "P3", "TWO_OVER_PI"]

TWO_OVER_PI = 2.0 / math.pi
P1 = float.fromhex("0x1.921fb54000000p+0")  # pi/2 truncated to 28 significant bits
P2 = float.fromhex("0x1.10b4610000000p-30")  # the next bits, 25 significant bits
P3 = float.fromhex("0x1.a62633145c06ep-58")  # the rest, rounded to double
ROUND = 6755399441055744.0  # 1.5 * 2**52: (y + ROUND) - ROUND rounds y to an integer (ties to even)
LIMIT = 1.0e15  # |x| from which sincos gives NaN

# Taylor coefficients in z = r*r: sin r = r + (r*z)*(S[0] + z*(S[1] + ...)),
# cos r = (1 - z/2) + (((1 - (1 - z/2)) - z/2) + (z*z)*(C[0] + z*(C[1] + ...)))
S = tuple((-1.0) ** (n + 1) / math.factorial(2 * n + 3) for n in range(8))  # -1/3!, 1/5!, ..., 1/17!
C = tuple((-1.0) ** n / math.factorial(2 * n + 4) for n in range(7))  # 1/4!, -1/6!, ..., 1/16!

_F64 = ir.DoubleType()
_I64 = ir.IntType(64)


def _c(x: float) -> ir.Constant:
    return ir.Constant(_F64, x)


def _horner(b: ir.IRBuilder, z: Any, coefs: tuple[float, ...]) -> Any:
    """c0 + z*(c1 + z*(c2 + ...)), innermost first, as Python evaluates it."""
    acc = _c(coefs[-1])
    for cf in reversed(coefs[:-1]):
        acc = b.fadd(_c(cf), b.fmul(z, acc))
    return acc


def _fabs(b: ir.IRBuilder, x: Any) -> Any:
    fn = b.module.declare_intrinsic("llvm.fabs", [_F64])
    return b.call(fn, [x])


def _sincos_ir(b: ir.IRBuilder, x: Any) -> tuple[Any, Any]:
    k = b.fsub(b.fadd(b.fmul(x, _c(TWO_OVER_PI)), _c(ROUND)), _c(ROUND))
    r = b.fsub(b.fsub(b.fsub(x, b.fmul(k, _c(P1))), b.fmul(k, _c(P2))), b.fmul(k, _c(P3)))
    z = b.fmul(r, r)
    ps = b.fadd(r, b.fmul(b.fmul(r, z), _horner(b, z, S)))
    hz = b.fmul(_c(0.5), z)
    w = b.fsub(_c(1.0), hz)
    tail = b.fadd(b.fsub(b.fsub(_c(1.0), w), hz), b.fmul(b.fmul(z, z), _horner(b, z, C)))
    pc = b.fadd(w, tail)
    ok = b.fcmp_ordered("<", _fabs(b, x), _c(LIMIT))
    q = b.fptosi(b.select(ok, k, _c(0.0)), _I64)
    zero = ir.Constant(_I64, 0)
    odd = b.icmp_signed("!=", b.and_(q, ir.Constant(_I64, 1)), zero)
    s = b.select(odd, pc, ps)
    c = b.select(odd, ps, pc)
    two = ir.Constant(_I64, 2)
    s = b.select(b.icmp_signed("!=", b.and_(q, two), zero), b.fneg(s), s)
    c = b.select(b.icmp_signed("!=", b.and_(b.add(q, ir.Constant(_I64, 1)), two), zero), b.fneg(c), c)
    nan = _c(math.nan)
    return b.select(ok, s, nan), b.select(ok, c, nan)


@intrinsic
def sincos(typingctx: Any, x: Any) -> Any:
    """(sin x, cos x) of a float64 angle x (rad), branch-free; within 2 ulp for |x| < 5e7."""
    if x != types.float64:
        return None
    sig = types.UniTuple(types.float64, 2)(types.float64)

    def codegen(context: Any, builder: ir.IRBuilder, signature: Any, args: Any) -> Any:
        s, c = _sincos_ir(builder, args[0])
        return context.make_tuple(builder, signature.return_type, [s, c])

    return sig, codegen


@intrinsic
def fmod2pi(typingctx: Any, x: Any) -> Any:
    """C ``fmod(x, 2*pi)`` of a float64 x (rad, sign of x), branch-free; exact for |x| < 4e8."""
    if x != types.float64:
        return None
    sig = types.float64(types.float64)

    def codegen(context: Any, b: ir.IRBuilder, signature: Any, args: Any) -> Any:
        (x,) = args
        big = b.fcmp_unordered(">=", _fabs(b, x), _c(4.0e15))  # NaN, infinity or no angle
        y = b.select(big, _c(0.0), x)
        q = b.sitofp(b.fptosi(b.fmul(y, _c(INV_TWOPI)), _I64), _F64)  # truncation towards zero

        def rem(q: Any) -> Any:
            return b.fsub(b.fsub(y, b.fmul(q, _c(TWOPI_HI))), b.fmul(q, _c(TWOPI_LO)))

        r = rem(q)
        # the quotient can be one off near a multiple of 2 pi: step it, recompute exactly
        pos = b.fcmp_ordered(">=", y, _c(0.0))
        up = b.select(pos, b.fcmp_ordered(">=", r, _c(TWOPI)), b.fcmp_ordered(">", r, _c(0.0)))
        down = b.select(pos, b.fcmp_ordered("<", r, _c(0.0)), b.fcmp_ordered("<=", r, _c(-TWOPI)))
        q = b.select(up, b.fadd(q, _c(1.0)), b.select(down, b.fsub(q, _c(1.0)), q))
        return b.select(big, b.fsub(x, x), rem(q))

    return sig, codegen


@intrinsic
def sqrt(typingctx: Any, x: Any) -> Any:
    """Square root of a float64 (NaN for x < 0) as the (SIMD) instruction."""
    if x != types.float64:
        return None
    sig = types.float64(types.float64)

    def codegen(context: Any, b: ir.IRBuilder, signature: Any, args: Any) -> Any:
        (x,) = args
        fn = b.module.declare_intrinsic("llvm.sqrt", [_F64])
        y = b.call(fn, [_fabs(b, x)])
        return b.select(b.fcmp_ordered("<", x, _c(0.0)), _c(math.nan), y)

    return sig, codegen


def sincos_py(x: float) -> tuple[float, float]:
    """:func:`sincos`'s arithmetic in Python (for the tests), rad -> (sin x, cos x)."""
    k = (x * TWO_OVER_PI + ROUND) - ROUND
    r = ((x - k * P1) - k * P2) - k * P3
    z = r * r
    acc = S[-1]
    for cf in reversed(S[:-1]):
        acc = cf + z * acc
    ps = r + (r * z) * acc
    hz = 0.5 * z
    w = 1.0 - hz
    acc = C[-1]
    for cf in reversed(C[:-1]):
        acc = cf + z * acc
    pc = w + (((1.0 - w) - hz) + (z * z) * acc)
    if not abs(x) < LIMIT:
        return math.nan, math.nan
    q = int(k)
    s, c = (pc, ps) if q & 1 else (ps, pc)
    if q & 2:
        s = -s
    if (q + 1) & 2:
        c = -c
    return s, c
