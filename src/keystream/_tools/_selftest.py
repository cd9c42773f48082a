"""``keystream selftest``: the known answers, then every engine on every device against
the reference, on a sample of every draw.  Prints a table; returns the failure count."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from .._core._philox import philox4x32
from .._engines import all_engines
from . import _conformance as conf

__all__ = ["run", "devices"]

# The Random123 known-answer vectors (kat/philox4x32.txt), R = 7 and 10.
KAT = (
    (10, (0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    (10, (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
    (10, (0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (7, (0, 0, 0, 0), (0, 0), (0x5F6FB709, 0x0D893F64, 0x4F121F81, 0x4F730A48)),
    (7, (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0x4DFCCABA, 0x190A87F0, 0xC47362BA, 0xB6B5242A)),
    (7, (0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x5207DDC2, 0x45165E59, 0x4D8EE751, 0x8C52F662)),
)


def devices() -> list[torch.device]:
    devs = [torch.device("cpu")]
    if torch.cuda.is_available():
        devs.append(torch.device("cuda"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devs.append(torch.device("mps"))
    return devs


#: (shape, region, offset): odd sizes, a scattered region, offsets across 2^32 and near 2^64.
SAMPLES = (
    ((1027,), None, 0),
    ((5, 7, 3), ((1, 4), (2, 7), (0, 2)), (1 << 32) - 3),
    ((37,), ((3, 30),), (1 << 64) - 50),
)


def _kat_ok() -> bool:
    for rounds, ctr, key, expected in KAT:
        got = tuple(int(w) for w in philox4x32(*ctr, key[0], key[1], rounds=rounds))
        if got != expected:
            return False
    return True


def run(print_fn: Callable[[str], None] = print) -> int:
    """Run the self test; return the number of failures."""
    failures = 0
    kat = _kat_ok()
    failures += not kat
    print_fn(f"keystream {__import__('keystream').__version__}, torch {torch.__version__}")
    print_fn(f"Philox4x32 known answers (Random123, 6 vectors): {'ok' if kat else 'FAIL'}")
    rows = []
    t0 = time.perf_counter()
    for engine in all_engines():
        if engine.name == "reference":
            continue
        for dev in devices():
            if not engine.available() or not engine.supports(dev):
                continue
            for case in conf.CASES:
                # what this engine has kernels for; the draws it has none for are the
                # portable engine's (checked on its own rows, listed at the end)
                dtypes = [dt for dt in case.dtypes if engine.implements(case.kind, dt)]
                if not dtypes:
                    continue
                ok = True
                for dt in dtypes:
                    for shape, region, offset in SAMPLES:
                        if case.kind.startswith("randperm") and len(shape) > 1:
                            continue
                        spec = conf.make_spec(case, dt, shape, region, offset)
                        try:
                            got = conf.run_case(engine, spec, dev)
                        except Exception:  # noqa: BLE001 - any crash is a failure to report
                            ok = False
                            continue
                        ok &= conf.same_bits(got, conf.reference(spec))
                failures += not ok
                rows.append((engine.name, str(dev), case.name, "ok" if ok else "FAIL"))
    fused = _fused_rows() + _composite_rows()
    failures += sum(r[3] != "ok" for r in fused)
    rows += fused
    width = max((len(r[2]) for r in rows), default=4)
    ew = max((len(r[0]) for r in rows), default=6)
    print_fn(f"{'engine':<{ew}} {'device':<8} {'draw':<{width}}  result")
    for name, where, draw, result in rows:
        print_fn(f"{name:<{ew}} {where:<8} {draw:<{width}}  {result}")
    unavailable = [e.name for e in all_engines() if not e.available()]
    if unavailable:
        print_fn(f"not available in this process: {', '.join(unavailable)}")
    from .._engines._triton import unavailable_reason

    if unavailable_reason():
        print_fn(f"triton engines: {unavailable_reason()}")
    print_fn("default engine per device: " + ", ".join(_served(d) for d in devices()))
    print_fn(f"{len(rows)} checks, {failures} failed ({time.perf_counter() - t0:.1f} s)")
    return failures


def _served(device: torch.device) -> str:
    """``device: engine``, and the draws another engine serves there (those the device's
    engine has no kernel for)."""
    from .._core._kinds import KERNEL_KINDS
    from .._engines import engine_for

    main = engine_for(device)
    others = [f"{row.kind}/{str(dt).removeprefix('torch.')}: {engine_for(device, row.kind, dt).name}"
              for row in KERNEL_KINDS for dt in row.dtypes if engine_for(device, row.kind, dt) is not main]
    return f"{device}: {main.name}" + (f" ({', '.join(others)})" if others else "")


def _unfused(integrand: Callable[[Any], torch.Tensor]) -> Callable[[Any], torch.Tensor]:
    """The integrand as a plain function: ``estimate`` then runs its torch definition,
    not its fused kernel."""
    return lambda draws: integrand(draws)


def _kernel_engines() -> list[tuple[Any, torch.device]]:
    """(engine, device) for each available engine with kernels of its own for the composite
    and fused draws (C, Triton) and each device it supports here."""
    return [(engine, dev) for engine in all_engines()
            if engine.name in ("cpu", "triton", "triton-interpreter") and engine.available()
            for dev in devices() if engine.supports(dev)]


def _fused_rows() -> list[tuple[str, str, str, str]]:
    """montecarlo.InBall's fused kernels (C, Triton) against its torch definition, through
    ``estimate``, and the engines' exact sums, per engine and device that has them."""
    from .._engines import use_engine
    from ..montecarlo import InBall, estimate

    rows = []
    for engine, dev in _kernel_engines():
        ok = True
        for dim in (2, 3):
            n = 3001 if engine.name == "triton-interpreter" else 100_003
            try:
                with use_engine(engine.name):
                    fused = estimate(InBall(dim), n, seed=7, device=dev, chunk_size=n // 3)
                with use_engine("reference"):
                    plain = estimate(_unfused(InBall(dim)), n, seed=7, chunk_size=n // 3)
                ok &= fused.sum_exact == plain.sum_exact
            except Exception:  # noqa: BLE001 - any crash is a failure to report
                ok = False
        rows.append((engine.name, str(dev), "montecarlo InBall (fused)", "ok" if ok else "FAIL"))
        rows.append((engine.name, str(dev), "montecarlo exact sums", "ok" if _exact_sums_ok(engine.name, dev)
                     else "FAIL"))
    return rows


def _composite_draws(dev: torch.device, version: int) -> dict[str, Callable[[], torch.Tensor]]:
    """The draws made of other draws, with kernels of their own on some engines, and keyed
    dropout and sampling: small cases across their methods' switches."""
    import keystream as ks

    def gen(seed: int) -> Any:
        return ks.Generator(seed, device=dev, stream_version=version)

    alpha = torch.tensor([1e-3, 0.2, 0.9, 1.0, 2.5, 40.0], device=dev).repeat(7)
    rates = torch.tensor([0.0, 0.3, 4.0, 10.0, 30.0, 1e9], device=dev).repeat(7)
    counts = torch.tensor([0.0, 5.0, 20.0, 100.0, 1e6, 2.0**40], device=dev).repeat(7)
    probs = torch.tensor([1e-9, 0.01, 0.3, 0.5, 0.9, 1.0], device=dev).repeat_interleave(7)
    weights = torch.rand(5, 40, generator=torch.Generator().manual_seed(1)).to(dev)
    logits = torch.randn(6, 50, generator=torch.Generator().manual_seed(2)).to(dev)
    x = torch.ones(4, 33, device=dev)
    return {
        "standard_gamma": lambda: ks.standard_gamma(alpha, generator=gen(1)),
        "chi2, student_t": lambda: torch.cat([ks.chi2(alpha, generator=gen(2)),
                                              ks.student_t(alpha * 3, generator=gen(3))]),
        "beta, dirichlet": lambda: torch.cat([ks.beta(alpha, 2.0, generator=gen(4)),
                                              ks.dirichlet(alpha.reshape(7, 6), generator=gen(5)).reshape(-1)]),
        "poisson": lambda: ks.poisson(rates, generator=gen(6)),
        "binomial": lambda: ks.binomial(counts, probs, generator=gen(7)),
        "multinomial": lambda: torch.cat([ks.multinomial(weights, 7, generator=gen(8)),
                                          ks.multinomial(weights, 7, True, generator=gen(9))], 1),
        "keyed dropout": lambda: ks.nn.functional.dropout(x, 0.4, site=ks.nn.Site("selftest", gen(10))),
        "sampling": lambda: ks.sampling.sample(logits, ks.sampling.request_keys(3, 0, torch.arange(6)),
                                               temperature=0.7, top_p=0.9),
    }


def _composite_rows() -> list[tuple[str, str, str, str]]:
    """The composite draws, keyed dropout and sampling of each engine with kernels for them
    (C, Triton) against the portable engine (their torch definitions), in each stream version
    the engine computes them for."""
    from .._engines import use_engine

    rows = []
    for engine, dev in _kernel_engines():
        results: dict[str, bool] = {}
        for version in sorted(engine.composite_versions):  # (the others are the portable engine's)
            for name, draw in _composite_draws(dev, version).items():
                if name == "sampling" and engine.name == "triton-interpreter":
                    continue  # (seconds a row in the interpreter: tests/test_triton_engine.py checks it)
                try:
                    with use_engine(engine.name):
                        got = draw()
                    with use_engine("portable"):
                        want = draw()
                    ok = conf.same_bits(got, want)
                except Exception:  # noqa: BLE001 - any crash is a failure to report
                    ok = False
                results[name] = results.get(name, True) and ok
        rows += [(engine.name, str(dev), name, "ok" if ok else "FAIL") for name, ok in results.items()]
    return rows


def _exact_sums_ok(engine: str, dev: torch.device) -> bool:
    """The engine's exact sums (C, Triton) equal the torch limb arithmetic on values of
    many magnitudes and signs, in programs of different ranges."""
    from .._engines import use_engine
    from ..montecarlo._accumulate import _join, _limbs_torch, exact_sums

    g = torch.Generator().manual_seed(1)
    x = torch.randn(5 * 1024 + 3, generator=g, dtype=torch.float64)
    x[:1024] *= 1e12
    x[2048:3072] *= -1e-200
    x[4096:] = torch.clamp(x[4096:], min=0.0)
    want = (_join(_limbs_torch(x)), _join(_limbs_torch(x * x)))
    try:
        with use_engine(engine):
            return exact_sums(x.to(dev)) == want
    except Exception:  # noqa: BLE001 - any crash is a failure to report
        return False


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(1 if run() else 0)
