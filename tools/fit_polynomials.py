"""Derive the polynomial coefficients of keystream's deterministic log/sin/cos.

Run once when designing a stream version; its output was pasted, as bit
patterns, into ``src/keystream/_core/_constants.py``.  It is kept so that anyone can
see where the numbers came from.  Changing a coefficient changes the stream:
that needs a new stream version (docs/spec.md, section "Versioning").

Method: a Chebyshev fit (mpmath.chebyfit, near-minimax) of the correction term
of each kernel as a polynomial in z = x*x, rounded to the target precision.

    log:  ln((1+s)/(1-s)) = 2s + s*R(z),  R(z) = z*(L1 + z*(L2 + ...)), s in [0, 0.1716]
    sin:  sin(a) = a + (a*z)*(S1 + z*(S2 + ...)),  a in [-pi/4, pi/4]
    cos:  cos(a) = 1 + z*(C0 + z*(C1 + ...))
"""
from __future__ import annotations

import struct

import mpmath as mp

mp.mp.dps = 60
S_MAX = (mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)  # s = f/(2+f) at f = sqrt(2)-1
A_MAX = mp.pi / 4


def f32_bits(x) -> str:
    return "0x{:08X}".format(struct.unpack("<I", struct.pack("<f", float(x)))[0])


def f64_bits(x) -> str:
    return "0x{:016X}".format(struct.unpack("<Q", struct.pack("<d", float(x)))[0])


def fit(fun, zmax, degree):
    coeffs, err = mp.chebyfit(fun, [mp.mpf(0) + mp.mpf(10) ** -30, zmax], degree + 1, error=True)
    return list(reversed(coeffs)), err  # lowest order first


def log_g(z):
    s = mp.sqrt(z)
    return (mp.log((1 + s) / (1 - s)) - 2 * s) / (s * z)


def sin_g(z):
    a = mp.sqrt(z)
    return (mp.sin(a) - a) / (a * z)


def cos_g(z):
    a = mp.sqrt(z)
    return (mp.cos(a) - 1) / z


def main() -> None:
    for name, g, zmax, deg32, deg64 in (
        ("LOG_L", log_g, S_MAX**2, 3, 6),
        ("SIN_S", sin_g, A_MAX**2, 2, 5),
        ("COS_C", cos_g, A_MAX**2, 3, 6),
    ):
        for width, deg, bits in ((32, deg32, f32_bits), (64, deg64, f64_bits)):
            coeffs, err = fit(g, zmax, deg)
            print(f"# {name} float{width}: degree {deg} in z, fit error {mp.nstr(err, 3)}")
            for i, c in enumerate(coeffs):
                print(f"{name}{i + 1}_F{width} = {bits(c)}  # {mp.nstr(c, 20)}")


if __name__ == "__main__":
    main()
