"""GPU benchmark and conformance check: one prepared script, about 3 minutes on an H100/H200.

    python benchmarks/gpu.py                       # on a CUDA machine
    python benchmarks/gpu.py --json out.json       # also write JSON
    python benchmarks/gpu.py --json out.json --sweep   # and time the launch shapes (d), +1-2 min
    python benchmarks/gpu.py --device cpu --engine triton-interpreter --n 4096 --n-perm 512 --reps 2 \
        --big 600 --mc-samples 20000 --mc-chunk 4096                                      # smoke test

(a) Conformance: every draw x dtype of the conformance table, at odd sizes, a scattered
    region, offsets across 2^32 and near 2^64, one element at an offset of one block (an
    argument equal to 1, which Triton's launcher would make a constant if the kernels let
    it) and one large draw, computed on the GPU
    engine and compared bit for bit with the CPU engine (the reference engine for the
    small cases); then every draw again through the kernels' 64-bit-position variants.
(b) Speed, N = 2^28 (randperm 2^26), medians of CUDA-event timings in one run: the
    device's write bandwidth (``torch.empty(N).fill_``), keystream against torch
    rand / randn / randint / bernoulli_ / exponential_ / randperm, and JAX and CuPy
    when they are importable.  Prints markdown tables and writes JSON.
(c) Monte Carlo on a GPU: the pi estimator (``InBall(2)``, fused Triton
    kernel) gives the same exact sum on the GPU as on the CPU and as its torch ops; its
    uniforms per second against raw ``rand`` of the estimator's chunk, and the same
    integrand as torch ops; the European call with exact sums (Triton kernel) against
    plain float64 sums.
(d) ``--sweep``: the launch shape of the GPU engine (Philox blocks and warps per
    program), timed per draw at N; bits are checked equal across shapes.  Results never
    depend on the shape, so the fastest may be made the engine's default per device.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch

import keystream as ks
from _timing import median_time
from keystream._tools import _conformance as conf


def timer(device: torch.device):
    """A function timing fn() in seconds: CUDA events on a GPU, perf_counter elsewhere."""
    if device.type == "cuda":
        def run(fn, reps):
            fn()
            torch.cuda.synchronize()
            times = []
            for _ in range(reps):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end) / 1e3)
            return statistics.median(times)
    else:
        def run(fn, reps):
            return median_time(fn, reps)
    return run


def conformance(device: torch.device, engine: str, big: int) -> list[dict]:
    samples = [((1027,), None, 0), ((5, 7, 3), ((1, 4), (2, 7), (0, 2)), (1 << 32) - 3),
               ((37,), ((3, 30),), (1 << 64) - 50), ((1,), None, 1), ((big,), None, (1 << 33) + 1)]
    rows = []
    for case in conf.CASES:
        for dt in case.dtypes:
            ok = True
            for shape, region, offset in samples:
                if case.kind == "randperm" and len(shape) > 1:
                    continue
                spec = conf.make_spec(case, dt, shape, region, offset)
                # the big draw against a fast CPU engine (C, else torch ops: both tested bitwise)
                fast = "cpu" if "cpu" in ks.available_engines() else "portable"
                oracle = fast if shape[0] == big else "reference"
                try:
                    got = conf.run_case(engine, spec, device)
                    ok &= conf.same_bits(got, conf.run_case(oracle, spec, "cpu"))
                except Exception as err:  # noqa: BLE001 - report, don't stop
                    print(f"  {case.name} {dt}: {type(err).__name__}: {err}")
                    ok = False
            rows.append({"draw": case.name, "dtype": str(dt).replace("torch.", ""), "ok": bool(ok)})
    # The 64-bit-position variants serve draws of 2^31 elements or more; take them on
    # the small samples too (same bits by construction, compiled code checked here).
    from keystream._engines import _triton

    wide_from = _triton.TritonEngine.WIDE_FROM
    _triton.TritonEngine.WIDE_FROM = 1
    try:
        wide_cases = ("bits", "rand", "uniform(-3,5)", "randn", "normal(2,3)", "exponential", "randint(-5,12)",
                      "bernoulli(0.3)")  # one per kernel path (kind, standard parameters or not)
        for case in (c for c in conf.CASES if c.name in wide_cases):
            dt = case.dtypes[0]
            ok = True
            for shape, region, offset in samples[:4]:
                spec = conf.make_spec(case, dt, shape, region, offset)
                try:
                    ok &= conf.same_bits(conf.run_case(engine, spec, device), conf.run_case("reference", spec, "cpu"))
                except Exception as err:  # noqa: BLE001 - report, don't stop
                    print(f"  {case.name} {dt} (64-bit positions): {type(err).__name__}: {err}")
                    ok = False
            rows.append({"draw": f"{case.name} (64-bit positions)", "dtype": str(dt).replace("torch.", ""),
                         "ok": bool(ok)})
    finally:
        _triton.TritonEngine.WIDE_FROM = wide_from
    return rows


def speed(device: torch.device, engine: str, n: int, n_perm: int, reps: int) -> tuple[float, list[dict]]:
    t = timer(device)
    g = ks.Generator(1234, device=device)
    f32, f64, bf16 = torch.float32, torch.float64, torch.bfloat16
    fill = t(lambda: torch.empty(n, device=device).fill_(1.0), reps)
    bandwidth = n / fill / 1e9
    cases = [
        ("uniform f32", n, lambda: g.rand(n), lambda: torch.rand(n, device=device)),
        ("uniform bf16", n, lambda: g.rand(n, dtype=bf16), lambda: torch.rand(n, device=device, dtype=bf16)),
        ("uniform f64", n, lambda: g.rand(n, dtype=f64), lambda: torch.rand(n, device=device, dtype=f64)),
        ("normal f32", n, lambda: g.randn(n), lambda: torch.randn(n, device=device)),
        ("normal f64", n, lambda: g.randn(n, dtype=f64), lambda: torch.randn(n, device=device, dtype=f64)),
        ("randint int64", n, lambda: g.randint(0, 1000, (n,)), lambda: torch.randint(0, 1000, (n,), device=device)),
        ("bernoulli f32", n, lambda: g.bernoulli(0.5, (n,), dtype=f32),
         lambda: torch.empty(n, device=device).bernoulli_(0.5)),
        ("exponential f32", n, lambda: g.exponential(n), lambda: torch.empty(n, device=device).exponential_()),
        ("randperm", n_perm, lambda: g.randperm(n_perm), lambda: torch.randperm(n_perm, device=device)),
    ]
    rows = []
    with ks.use_engine(engine):
        for name, size, mine, theirs in cases:
            try:
                tm = t(mine, reps)
                tt = t(theirs, reps)
            except Exception as err:  # noqa: BLE001 - report, time the other draws
                rows.append({"draw": name, "n": size, "error": f"{type(err).__name__}: {err}"})
                continue
            rows.append({"draw": name, "n": size, "keystream_gps": size / tm / 1e9, "torch_gps": size / tt / 1e9,
                         "ratio": tt / tm, "of_bandwidth": (size / tm / 1e9) / bandwidth})
    return bandwidth, rows


def peers(n: int, reps: int) -> list[dict]:
    """JAX and CuPy, when importable (wall clock around a synchronised call)."""
    # JAX would otherwise reserve 75% of the GPU's memory for itself on first use
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    rows = []
    try:
        import jax
        import jax.numpy as jnp

        if jax.default_backend() != "gpu":
            raise RuntimeError(f"JAX runs on {jax.default_backend()}, not on the GPU")
        for impl in ("threefry2x32", "rbg"):
            key = jax.random.key(0, impl=impl)
            uni = jax.jit(lambda k: jax.random.uniform(k, (n,), dtype=jnp.float32))
            nor = jax.jit(lambda k: jax.random.normal(k, (n,), dtype=jnp.float32))
            for name, fn in (("uniform f32", uni), ("normal f32", nor)):
                fn(key).block_until_ready()
                times = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    fn(key).block_until_ready()
                    times.append(time.perf_counter() - t0)
                rows.append({"peer": f"JAX {impl}", "draw": name, "gps": n / statistics.median(times) / 1e9})
    except Exception as err:  # noqa: BLE001
        rows.append({"peer": "JAX", "error": f"{type(err).__name__}: {err}"})
    try:
        import cupy

        rng = cupy.random.default_rng(0)
        for name, fn in (("uniform f32", lambda: rng.random(n, dtype=cupy.float32)),
                         ("normal f32", lambda: rng.standard_normal(n, dtype=cupy.float32))):
            fn()
            cupy.cuda.Device().synchronize()
            times = []
            for _ in range(reps):
                t0 = time.perf_counter()
                fn()
                cupy.cuda.Device().synchronize()
                times.append(time.perf_counter() - t0)
            rows.append({"peer": "CuPy", "draw": name, "gps": n / statistics.median(times) / 1e9})
    except Exception as err:  # noqa: BLE001
        rows.append({"peer": "CuPy", "error": f"{type(err).__name__}: {err}"})
    return rows


def montecarlo(device: torch.device, engine: str, n: int, chunk: int, reps: int) -> dict:
    from keystream.montecarlo import InBall, estimate

    pi = InBall(2)
    small = 300_001
    on_cpu = estimate(pi, small, seed=5, chunk_size=65_536)
    with ks.use_engine(engine):
        fused = estimate(pi, small, seed=5, device=device, chunk_size=65_536)
        ops = estimate(lambda d: pi(d), small, seed=5, device=device, chunk_size=65_536)
        ok = on_cpu.sum_exact == fused.sum_exact == ops.sum_exact
        g = ks.Generator(7, device=device)
        raw = 2 * chunk / timer(device)(lambda: g.rand(2 * chunk), reps)

        def run(fn):  # estimate() returns host floats: it has synchronised
            return 2 * n / median_time(lambda: estimate(fn, n, seed=1, device=device, chunk_size=chunk), 3)

        fused_ups, ops_ups = run(pi), run(lambda d: pi(d))
        # exact sums (Triton kernel) against plain float64 sums on a float-valued integrand
        import montecarlo as mc_bench  # benchmarks/montecarlo.py
        from keystream.montecarlo import EXAMPLES

        call, m = EXAMPLES["european-call"].fn, max(n // 4, 1)
        # the GPU's exact sums (Triton) are the CPU's (C) on a float-valued integrand
        call_ok = (estimate(call, 300_001, seed=5, device=device, chunk_size=65_536).sum_exact
                   == estimate(call, 300_001, seed=5, chunk_size=100_000).sum_exact)
        exact_s, plain_s = mc_bench.interleaved(lambda: estimate(call, m, seed=1, device=device, chunk_size=chunk))
    return {"ok": bool(ok and call_ok), "pi_ok": bool(ok), "call_ok": bool(call_ok), "n": n, "chunk": chunk,
            "raw_gps": raw / 1e9, "fused_gps": fused_ups / 1e9,
            "torch_ops_gps": ops_ups / 1e9, "call_n": m, "call_exact_s": exact_s, "call_plain_s": plain_s,
            "call_pairs": mc_bench.PAIRS}


def keyed_sampling(device: torch.device, reps: int) -> dict:
    """keystream.sampling on the GPU: the tokens equal the CPU's, and the time against torch's
    batched path and per-request generators (batch 64, vocabulary 128,000)."""
    from keystream import sampling
    from sampling import torch_batched, torch_per_request  # benchmarks/sampling.py

    batch, vocab = 64, 128_000
    logits = torch.randn(batch, vocab, generator=torch.Generator().manual_seed(1)) * 3
    keys = sampling.request_keys(range(batch), 0)
    want = sampling.sample(logits, keys, temperature=0.8, top_p=0.9)
    on_gpu, gkeys = logits.to(device), keys.to(device)
    ok = torch.equal(sampling.sample(on_gpu, gkeys, temperature=0.8, top_p=0.9).cpu(), want)
    gens = [torch.Generator(device=device).manual_seed(i) for i in range(batch)]
    run = timer(device)
    return {"ok": ok, "keystream_s": run(lambda: sampling.sample(on_gpu, gkeys, temperature=0.8, top_p=0.9), reps),
            "torch_batched_s": run(lambda: torch_batched(on_gpu), reps),
            "torch_per_request_s": run(lambda: torch_per_request(on_gpu, gens), max(1, reps // 5))}


def dropout_and_graphs(device: torch.device, n: int, reps: int) -> dict:
    """keystream.nn dropout on the GPU: the output equals the CPU's, forward + backward against
    F.dropout; and a captured CUDA graph under keystream.graph_safe: replays equal eager draws."""
    import keystream as ks
    import keystream.nn as knn

    x = ks.randn(n, generator=ks.Generator(1))
    site = knn.Site("gpu", ks.Generator(2))
    with knn.batch(0, step=0):
        want = knn.functional.dropout(x, 0.3, site=site)
    xg = x.to(device).requires_grad_()
    with knn.batch(0, step=0):
        ok = torch.equal(knn.functional.dropout(xg, 0.3, site=site).detach().cpu(), want)
    gy = torch.ones_like(xg)

    def ks_step() -> None:
        xg.grad = None
        knn.functional.dropout(xg, 0.3, site=site).backward(gy)

    def torch_step() -> None:
        xg.grad = None
        torch.nn.functional.dropout(xg, 0.3).backward(gy)

    run = timer(device)
    out = {"ok": ok, "keystream_s": run(ks_step, reps), "torch_s": run(torch_step, reps), "graph_ok": None}
    if device.type == "cuda":
        g, ref = ks.Generator(7, device=device), ks.Generator(7, device=device)
        graph, static = torch.cuda.CUDAGraph(), torch.empty(1 << 20, device=device)
        with ks.graph_safe(g, device):
            torch.cuda.synchronize()
            with torch.cuda.graph(graph):
                static.copy_(g.randn(1 << 20))
            ref.randn(1 << 20)  # (the capture itself drew once)
            replays = []
            for _ in range(3):
                graph.replay()
                replays.append(static.clone())
        out["graph_ok"] = all(torch.equal(r, ref.randn(1 << 20)) for r in replays) and g.offset == ref.offset
    return out


def sweep(device: torch.device, engine: str, n: int, reps: int, on_row, deadline: float) -> None:  # type: ignore[no-untyped-def]
    """Time the GPU engine's launch shapes (block, num_warps) per draw; check equal bits.
    Each row goes to ``on_row`` as it is measured; no new shape starts after ``deadline``
    (``time.perf_counter()``), so that a run under a time limit ends with its table."""
    from keystream._engines import get_engine

    eng = get_engine(engine)
    default, tuned = (eng.block, eng.num_warps), eng.shapes
    eng.shapes = {}  # every draw on the shape under test
    t = timer(device)
    g = ks.Generator(99, device=device)
    f32, f64 = torch.float32, torch.float64
    # the draws closest to their peers first (normal float32 against torch.randn)
    draws = [("normal f32", "normal", f32, lambda: g.randn(n)),
             ("uniform f32", "uniform", f32, lambda: g.rand(n)),
             ("normal f64", "normal", f64, lambda: g.randn(n, dtype=f64)),
             ("uniform f64", "uniform", f64, lambda: g.rand(n, dtype=f64)),
             ("randint int64", "randint", torch.int64, lambda: g.randint(0, 1000, (n,))),
             ("bernoulli f32", "bernoulli", f32, lambda: g.bernoulli(0.5, (n,), dtype=f32)),
             ("exponential f32", "exponential", f32, lambda: g.exponential(n))]
    try:
        with ks.use_engine(engine):
            for name, kind, dtype, fn in draws:
                g.offset = 0
                eng.block, eng.num_warps = default
                want = fn()[: 1 << 20].clone()
                for block in (256, 512, 1024, 2048):
                    for warps in (2, 4, 8):
                        if time.perf_counter() > deadline:
                            print(f"  (sweep stopped at its deadline before {name}, block {block}, {warps} warps)")
                            return
                        eng.block, eng.num_warps = block, warps
                        g.offset = 0
                        try:
                            same = bool(torch.equal(fn()[: 1 << 20], want))
                            gps = n / t(fn, reps) / 1e9
                        except Exception as err:  # noqa: BLE001 - e.g. a shape out of registers
                            print(f"  {name}, block {block}, {warps} warps: {type(err).__name__}: {err}")
                            continue
                        on_row({"draw": name, "kind": kind, "dtype": str(dtype).removeprefix("torch."),
                                "block": block, "num_warps": warps, "same_bits": same, "gps": gps})
    finally:
        eng.block, eng.num_warps = default
        eng.shapes = tuned


def shapes_table(rows: list[dict], default: tuple[int, int], margin: float = 1.03) -> str:
    """``_triton.CONTIGUOUS_SHAPES`` from a sweep: each draw's fastest shape where it beats
    the default shape by more than ``margin``."""
    entries = []
    for name in dict.fromkeys(r["draw"] for r in rows):
        mine = [r for r in rows if r["draw"] == name]
        best = max(mine, key=lambda r: r["gps"])
        base = next((r["gps"] for r in mine if (r["block"], r["num_warps"]) == default), 0.0)
        if best["gps"] > margin * base:
            entries.append(f'    ("{best["kind"]}", torch.{best["dtype"]}): ({best["block"]}, {best["num_warps"]}),'
                           f'  # {best["gps"]:.0f} G/s, default {base:.0f}')
    return "CONTIGUOUS_SHAPES = {\n" + "\n".join(entries) + "\n}"



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--engine", default="triton")
    ap.add_argument("--n", type=int, default=1 << 28)
    ap.add_argument("--n-perm", type=int, default=1 << 26)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--big", type=int, default=1 << 20, help="size of the large conformance draw")
    ap.add_argument("--json", default=None)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--mc-samples", type=int, default=1 << 30)
    ap.add_argument("--mc-chunk", type=int, default=1 << 26)
    ap.add_argument("--sweep", action="store_true", help="also time the engine's launch shapes (d)")
    ap.add_argument("--deadline", type=float, default=480,
                    help="seconds from the start after which the sweep starts no new shape")
    args = ap.parse_args()
    device = torch.device(args.device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    t0 = time.perf_counter()
    print(f"# keystream {ks.__version__} on {gpu}, torch {torch.__version__}, engine {args.engine}")
    report = {"gpu": gpu, "torch": torch.__version__, "n": args.n}

    def save(**section) -> None:  # after every section: a run cut short keeps what it measured
        report.update(section)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(report, fh, indent=1)

    rows = conformance(device, args.engine, args.big)
    save(conformance=rows)
    bad = [r for r in rows if not r["ok"]]
    print(f"\n## Conformance: {len(rows) - len(bad)} of {len(rows)} draw x dtype checks bitwise ok"
          f" ({time.perf_counter() - t0:.0f} s)")
    for r in bad:
        print(f"- FAIL {r['draw']} {r['dtype']}")
    bandwidth, speeds = speed(device, args.engine, args.n, args.n_perm, args.reps)
    save(bandwidth_gps=bandwidth, speed=speeds)
    print(f"\n## Speed, N = {args.n} (randperm {args.n_perm}), median of {args.reps}")
    print(f"\nwrite bandwidth (torch.empty(N).fill_, f32): {bandwidth:.1f} G elements/s "
          f"({bandwidth * 4:.0f} GB/s)\n")
    print("| draw | keystream G/s | torch G/s | keystream / torch | of write bandwidth |")
    print("|---|---|---|---|---|")
    for r in speeds:
        print(f"| {r['draw']} | {r['keystream_gps']:.1f} | {r['torch_gps']:.1f} | {r['ratio']:.2f}x | "
              f"{100 * r['of_bandwidth']:.0f}% |" if "error" not in r else f"| {r['draw']} | failed: {r['error']} |")
    other = [] if args.no_peers or device.type != "cuda" else peers(args.n, args.reps)
    save(peers=other)
    if other:
        print("\n| peer | draw | G/s |\n|---|---|---|")
        for r in other:
            print(f"| {r['peer']} | {r.get('draw', '-')} | {r['gps']:.1f} |" if "gps" in r
                  else f"| {r['peer']} | - | not run: {r['error']} |")
    print(f"\n(speed and peers done at {time.perf_counter() - t0:.0f} s)")
    try:
        mc = montecarlo(device, args.engine, args.mc_samples, args.mc_chunk, args.reps)
    except Exception as err:  # noqa: BLE001 - report, go on to the sweep
        mc = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        print(f"\n## Monte Carlo failed: {mc['error']}")
    save(montecarlo=mc)
    if "error" not in mc:
        print(f"\n## Monte Carlo pi, {mc['n']} samples, chunks of {mc['chunk']}: exact sums equal on GPU, CPU and as "
              f"torch ops: {mc['pi_ok']}; European call, exact sums (Triton kernel) equal to the CPU's: "
              f"{mc['call_ok']}")
        print(f"raw rand f32 (chunk): {mc['raw_gps']:.1f} G/s; pi estimator (InBall(2), fused): "
              f"{mc['fused_gps']:.1f} G uniforms/s = {100 * mc['fused_gps'] / mc['raw_gps']:.0f}% of raw; "
              f"as torch ops: {mc['torch_ops_gps']:.1f} G/s = {100 * mc['torch_ops_gps'] / mc['raw_gps']:.0f}%")
        print(f"european call, {mc['call_n']} samples: exact sums {mc['call_exact_s'] * 1e3:.1f} ms, plain "
              f"float64 sums {mc['call_plain_s'] * 1e3:.1f} ms: "
              f"{100 * (mc['call_exact_s'] / mc['call_plain_s'] - 1):+.1f}% (medians of {mc['call_pairs']} "
              f"interleaved pairs)")
    try:
        ks_sampling = keyed_sampling(device, args.reps)
        print(f"\n## Keyed sampling, batch 64 x 128,000, top-p 0.9: tokens equal the CPU's: {ks_sampling['ok']}; "
              f"keystream {ks_sampling['keystream_s'] * 1e3:.2f} ms, torch batched "
              f"{ks_sampling['torch_batched_s'] * 1e3:.2f} ms, per-request torch generators "
              f"{ks_sampling['torch_per_request_s'] * 1e3:.2f} ms")
    except Exception as err:  # noqa: BLE001 - report, go on
        ks_sampling = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        print(f"\n## Keyed sampling failed: {ks_sampling['error']}")
    save(sampling=ks_sampling)
    try:
        nn = dropout_and_graphs(device, args.n, args.reps)
        print(f"\n## Keyed dropout, {args.n} float32, p = 0.3: output equals the CPU's: {nn['ok']}; forward + "
              f"backward keystream {nn['keystream_s'] * 1e3:.2f} ms, torch F.dropout {nn['torch_s'] * 1e3:.2f} ms; "
              f"CUDA graph replays under keystream.graph_safe equal eager draws: {nn['graph_ok']}")
    except Exception as err:  # noqa: BLE001 - report, go on
        nn = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        print(f"\n## Keyed dropout / CUDA graphs failed: {nn['error']}")
    save(nn=nn)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    shapes: list[dict] = []
    if args.sweep:
        print(f"\n## Launch shapes (G elements/s, N = {args.n}; * = equal bits to the default shape)\n")
        print("| draw | block | warps | G/s |\n|---|---|---|---|")

        def on_row(r: dict) -> None:
            shapes.append(r)
            print(f"| {r['draw']} | {r['block']} | {r['num_warps']} | {r['gps']:.1f}{' *' if r['same_bits'] else ''} |",
                  flush=True)
            save(shapes=shapes)

        sweep(device, args.engine, args.n, args.reps, on_row, t0 + args.deadline)
    if shapes:
        for name in dict.fromkeys(r["draw"] for r in shapes):
            best = max((r for r in shapes if r["draw"] == name), key=lambda r: r["gps"])
            print(f"- fastest for {name}: block {best['block']}, {best['num_warps']} warps, {best['gps']:.1f} G/s")
        from keystream._engines import get_engine

        eng = get_engine(args.engine)
        print("\nfor src/keystream/_engines/_triton.py (shapes > 3% faster than the default, "
              f"block {eng.block}, {eng.num_warps} warps):\n\n```python\n"
              f"{shapes_table(shapes, (eng.block, eng.num_warps))}\n```")
        print(f"\nwith the sweep: {time.perf_counter() - t0:.0f} s")
    save(shapes=shapes)
    bad_shapes = [r for r in shapes if not r["same_bits"]]
    failed_speed = [r for r in speeds if "error" in r]
    raise SystemExit(1 if bad or not mc["ok"] or bad_shapes or failed_speed else 0)


if __name__ == "__main__":
    main()
