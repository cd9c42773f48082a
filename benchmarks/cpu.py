"""CPU benchmark: keystream against torch and numpy, in one process and one run.

    python benchmarks/cpu.py [--n 16777216] [--reps 9] [--json benchmarks/cpu.json]

For each draw: the median over ``--reps`` timed runs (after one warm-up) of a fresh
draw of N elements (the draws added with torch's whole random surface: 2^22; multinomial:
2^12 rows of 1000 weights, 8 samples a row), keystream and its peers timed in turns, as
G elements/s, with all threads and with one thread (torch.set_num_threads), and the ratio
of keystream to each peer measured in the same run.  Then the rate of fills into a
preallocated ``out=`` and the per-call time of 2^17-element draws, each with all threads
and one.  Peak memory beyond the output is measured in a fresh subprocess per keystream
draw (peak RSS growth minus the output's bytes).  Prints a markdown table and writes
JSON.  This is a benchmark, not a test: numbers depend on the machine and on what else it
is doing.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch

import keystream as ks
from _timing import interleaved_stats, machine, time_stats, warm_fresh_pages

#: The size of the draws added with torch's whole random surface (and multinomial's
#: weights: rows x categories, and samples per row).
NEW_N = 1 << 22
MULTINOMIAL = (1 << 12, 1000, 8)


def draws(n: int):
    g = ks.Generator(1234)
    rng = np.random.default_rng(1234)
    f32, f64 = torch.float32, torch.float64
    m = min(n, NEW_N)
    rows, cats, samples = MULTINOMIAL
    weights = torch.rand(rows, cats, generator=torch.Generator().manual_seed(0))
    laplace, gumbel = torch.distributions.Laplace(0.0, 1.0), torch.distributions.Gumbel(0.0, 1.0)
    alphas, alphas_small, ones4 = torch.full((m,), 2.5), torch.full((m,), 0.5), torch.ones(m // 4, 4)
    halves4 = torch.full((m // 4, 4), 0.5)
    rates = {lam: torch.full((m,), lam) for lam in (0.5, 4.0, 30.0, 1000.0)}
    trials, p_small, p_big = torch.full((m,), 100.0), torch.full((m,), 0.02), torch.full((m,), 0.3)
    # name: (keystream, {peer name: peer}) for n elements, or (keystream, peers, elements)
    return {
        "uniform f32": (lambda: g.rand(n), {"torch.rand": lambda: torch.rand(n),
                                            "numpy random(f32)": lambda: rng.random(n, dtype=np.float32)}),
        "uniform f64": (lambda: g.rand(n, dtype=f64), {"torch.rand": lambda: torch.rand(n, dtype=f64),
                                                       "numpy random": lambda: rng.random(n)}),
        "normal f32": (lambda: g.randn(n), {"torch.randn": lambda: torch.randn(n),
                                            "numpy standard_normal(f32)":
                                                lambda: rng.standard_normal(n, dtype=np.float32)}),
        "normal f64": (lambda: g.randn(n, dtype=f64), {"torch.randn": lambda: torch.randn(n, dtype=f64),
                                                       "numpy standard_normal": lambda: rng.standard_normal(n)}),
        "randint int64": (lambda: g.randint(0, 1000, (n,)), {"torch.randint": lambda: torch.randint(0, 1000, (n,)),
                                                              "numpy integers": lambda: rng.integers(0, 1000, n)}),
        "randperm": (lambda: g.randperm(n), {"torch.randperm": lambda: torch.randperm(n),
                                             "numpy permutation": lambda: rng.permutation(n)}),
        "bernoulli f32": (lambda: g.bernoulli(0.5, (n,), dtype=f32),
                          {"torch bernoulli_": lambda: torch.empty(n).bernoulli_(0.5)}),
        "exponential f32": (lambda: g.exponential(n),
                            {"torch exponential_": lambda: torch.empty(n).exponential_(),
                             "numpy standard_exponential(f32)":
                                 lambda: rng.standard_exponential(n, dtype=np.float32)}),
        "cauchy f32": (lambda: g.cauchy(m), {"torch cauchy_": lambda: torch.empty(m).cauchy_(),
                                             "numpy standard_cauchy": lambda: rng.standard_cauchy(m)}, m),
        "log_normal f32": (lambda: g.log_normal(m), {"torch log_normal_": lambda: torch.empty(m).log_normal_(),
                                                     "numpy lognormal": lambda: rng.lognormal(1.0, 2.0, m)}, m),
        "trunc_normal_ f32 (std 0.02)": (lambda: ks.init.trunc_normal_(torch.empty(m), std=0.02, generator=g),
                                         {"torch trunc_normal_": lambda: torch.nn.init.trunc_normal_(
                                             torch.empty(m), std=0.02)}, m),
        "trunc_normal_ f32 on [2, 3]": (lambda: ks.init.trunc_normal_(torch.empty(m), a=2.0, b=3.0, generator=g),
                                        {"torch trunc_normal_": lambda: torch.nn.init.trunc_normal_(
                                            torch.empty(m), a=2.0, b=3.0)}, m),
        "geometric f32": (lambda: g.geometric(m, p=0.3),
                          {"torch geometric_": lambda: torch.empty(m).geometric_(0.3),
                           "numpy geometric": lambda: rng.geometric(0.3, m)}, m),
        "laplace f32": (lambda: g.laplace(m), {"torch Laplace.sample": lambda: laplace.sample((m,)),
                                               "numpy laplace": lambda: rng.laplace(size=m)}, m),
        "gumbel f32": (lambda: g.gumbel(m), {"torch Gumbel.sample": lambda: gumbel.sample((m,)),
                                             "numpy gumbel": lambda: rng.gumbel(size=m)}, m),
        "standard_gamma(2.5) f32": (lambda: g.standard_gamma(alphas),
                                    {"torch._standard_gamma": lambda: torch._standard_gamma(alphas),
                                     "numpy standard_gamma": lambda: rng.standard_gamma(2.5, m)}, m),
        "standard_gamma(0.5) f32": (lambda: g.standard_gamma(alphas_small),
                                    {"torch._standard_gamma": lambda: torch._standard_gamma(alphas_small),
                                     "numpy standard_gamma": lambda: rng.standard_gamma(0.5, m)}, m),
        "beta(2, 3) f32": (lambda: g.beta(2.0, 3.0, (m,)),
                           {"torch Beta.sample": lambda: torch.distributions.Beta(2.0, 3.0).sample((m,)),
                            "numpy beta": lambda: rng.beta(2.0, 3.0, m)}, m),
        "dirichlet(1, 1, 1, 1) f32": (lambda: g.dirichlet(ones4),
                                      {"torch Dirichlet.sample": lambda: torch.distributions.Dirichlet(ones4).sample(),
                                       "numpy dirichlet": lambda: rng.dirichlet(np.ones(4), m // 4)}, m),
        "beta(0.5, 0.5) f32": (lambda: g.beta(0.5, 0.5, (m,)),
                               {"torch Beta.sample": lambda: torch.distributions.Beta(0.5, 0.5).sample((m,)),
                                "numpy beta": lambda: rng.beta(0.5, 0.5, m)}, m),
        "dirichlet(0.5 x 4) f32": (lambda: g.dirichlet(halves4),
                                   {"torch Dirichlet.sample": lambda: torch.distributions.Dirichlet(halves4).sample(),
                                    "numpy dirichlet": lambda: rng.dirichlet(np.full(4, 0.5), m // 4)}, m),
        "chi2(3) f32": (lambda: g.chi2(3.0, (m,)),
                        {"torch Chi2.sample": lambda: torch.distributions.Chi2(3.0).sample((m,)),
                         "numpy chisquare": lambda: rng.chisquare(3.0, m)}, m),
        "student_t(5) f32": (lambda: g.student_t(5.0, (m,)),
                             {"torch StudentT.sample": lambda: torch.distributions.StudentT(5.0).sample((m,)),
                              "numpy standard_t": lambda: rng.standard_t(5.0, m)}, m),
        **{f"poisson({lam:g}) f32": (lambda r=r: g.poisson(r),
                                     {"torch.poisson": lambda r=r: torch.poisson(r),
                                      "numpy poisson": lambda lam=lam: rng.poisson(lam, m)}, m)
           for lam, r in rates.items()},
        "binomial(100, 0.02) f32": (lambda: g.binomial(trials, p_small),
                                    {"torch.binomial": lambda: torch.binomial(trials, p_small),
                                     "numpy binomial": lambda: rng.binomial(100, 0.02, m)}, m),
        "binomial(100, 0.3) f32": (lambda: g.binomial(trials, p_big),
                                   {"torch.binomial": lambda: torch.binomial(trials, p_big),
                                    "numpy binomial": lambda: rng.binomial(100, 0.3, m)}, m),
        "multinomial 4096x1000, 8 without replacement":
            (lambda: g.multinomial(weights, samples),
             {"torch.multinomial": lambda: torch.multinomial(weights, samples)}, rows * cats),
        "multinomial 4096x1000, 8 with replacement":
            (lambda: g.multinomial(weights, samples, True),
             {"torch.multinomial": lambda: torch.multinomial(weights, samples, True)}, rows * cats),
    }


MEMORY_CHILD = r"""
import resource, sys, torch, keystream as ks
n, name = int(sys.argv[1]), sys.argv[2]
g = ks.Generator(1)
calls = {
    "uniform f32": lambda m: g.rand(m), "uniform f64": lambda m: g.rand(m, dtype=torch.float64),
    "normal f32": lambda m: g.randn(m), "normal f64": lambda m: g.randn(m, dtype=torch.float64),
    "randint int64": lambda m: g.randint(0, 1000, (m,)), "randperm": lambda m: g.randperm(m),
    "bernoulli f32": lambda m: g.bernoulli(0.5, (m,)), "exponential f32": lambda m: g.exponential(m),
    # draws with tensor parameters: the parameters are made before the measurement
    "standard_gamma f32 (alpha tensor)": lambda m: g.standard_gamma(params(m)),
    "poisson f32 (rate tensor)": lambda m: g.poisson(params(m)),
    "binomial f32 (count, prob tensors)": lambda m: g.binomial(params(m, 10.0), params(m, 0.3)),
    "dirichlet f32 (4 categories)": lambda m: g.dirichlet(params(m // 4, 1.0, 4)),
    "beta f32 (a, b tensors)": lambda m: g.beta(params(m), params(m, 3.0)),
}
_params = {}


def params(m, value=2.5, last=None):
    key = (m, value, last)
    if key not in _params:
        _params[key] = torch.full((m,) if last is None else (m, last), value)
    return _params[key]


calls[name](1 << 17)  # first-call costs (kernels loaded, pools started) are not the draw's
made = {"standard_gamma": [(n, 2.5, None)], "poisson": [(n, 2.5, None)], "binomial": [(n, 10.0, None), (n, 0.3, None)],
        "dirichlet": [(n // 4, 1.0, 4)], "beta": [(n, 2.5, None), (n, 3.0, None)]}
for args in made.get(name.split()[0], []):
    params(*args)  # (the parameters of n elements: the caller's memory, made before the measurement)


def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
before = rss("VmRSS:")
out = calls[name](n)
print(rss("VmHWM:") - before - out.numel() * out.element_size())
"""


#: The draws whose extra memory is measured (those of MEMORY_CHILD).
MEMORY_DRAWS = ("uniform f32", "uniform f64", "normal f32", "normal f64", "randint int64", "randperm", "bernoulli f32",
                "exponential f32", "standard_gamma f32 (alpha tensor)", "poisson f32 (rate tensor)",
                "binomial f32 (count, prob tensors)", "dirichlet f32 (4 categories)", "beta f32 (a, b tensors)")


def extra_memory(n: int, name: str) -> int:
    r = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(n), name], capture_output=True, text=True, check=True)
    return int(r.stdout.strip().splitlines()[-1])


def extra_rows(n: int, reps: int, all_threads: int) -> list[dict]:
    """Fills into a preallocated ``out=`` (no page faults: the generator alone), and the
    per-call time of a 2^17-element draw (where splitting over threads starts to pay)."""
    g = ks.Generator(1)
    out = torch.empty(n)
    small = 1 << 17
    rows = []
    for threads in (all_threads, 1):
        torch.set_num_threads(threads)
        t = time_stats(lambda: g.rand(n, out=out), reps)
        rows.append({"what": f"uniform f32 into out= (n = {n}), G/s", "threads": threads, "s": t,
                     "value": f"{n / t['median'] / 1e9:.2f}",
                     "spread": f"{n / t['max'] / 1e9:.2f} - {n / t['min'] / 1e9:.2f}"})
    for threads in (all_threads, 1):
        torch.set_num_threads(threads)
        t = time_stats(lambda: g.rand(small), 5 * reps)
        rows.append({"what": "uniform f32, 2^17 elements, us per call", "threads": threads, "s": t,
                     "value": f"{t['median'] * 1e6:.1f}", "spread": f"{t['min'] * 1e6:.1f} - {t['max'] * 1e6:.1f}"})
    torch.set_num_threads(all_threads)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 24)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "cpu.json"))
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-only", action="store_true", help="only the memory rows (the JSON then holds those)")
    ap.add_argument("--only", default="", help="comma-separated parts of draw names: only those rows "
                    "(and no extra rows or memory); the JSON then holds those rows alone")
    args = ap.parse_args()
    only = [part for part in args.only.split(",") if part]
    n = args.n
    all_threads = torch.get_num_threads()
    from keystream._engines import engine_for

    meta = {**machine(), "engine": engine_for(torch.device("cpu")).name, "n": n, "reps": args.reps}
    meta["machine"] = f"{meta['cpu']}, {meta['cores']} cores"
    warm_fresh_pages(8 * n)  # the largest output: n float64 or int64 values
    rows = []
    for threads in () if args.memory_only else (all_threads, 1):
        torch.set_num_threads(threads)
        for name, (mine, peers, *count) in draws(n).items():
            if only and not any(part in name for part in only):
                continue
            size = count[0] if count else n
            reps = max(3, args.reps // 3) if name == "randperm" else args.reps
            t = interleaved_stats({"keystream": mine, **peers}, reps)
            t_mine = t.pop("keystream")
            row = {"draw": name, "threads": threads, "elements": size, "keystream_gps": size / t_mine["median"] / 1e9,
                   "keystream_s": t_mine, "peers": {}}
            for peer, t_peer in t.items():
                row["peers"][peer] = {"gps": size / t_peer["median"] / 1e9,
                                      "ratio": t_peer["median"] / t_mine["median"], "s": t_peer}
            rows.append(row)
    torch.set_num_threads(all_threads)
    extra = [] if only or args.memory_only else extra_rows(n, args.reps, all_threads)
    memory = {} if args.no_memory or only else {name: extra_memory(n, name) for name in MEMORY_DRAWS}
    result = {"meta": meta, "rows": rows, "extra": extra, "extra_memory_bytes": memory}
    with open(args.json, "w") as fh:
        json.dump(result, fh, indent=1)

    print(f"keystream {meta['keystream']} ({meta['engine']} engine), torch {meta['torch']}, numpy {meta['numpy']}, "
          f"N = {n}, median of {args.reps}; {meta['machine']}")
    print()
    print("| draw | elements | threads | keystream G/s | peer | peer G/s | keystream / peer |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        for peer, p in row["peers"].items():
            print(f"| {row['draw']} | {row['elements']} | {row['threads']} | {row['keystream_gps']:.3f} | {peer} | "
                  f"{p['gps']:.3f} | {p['ratio']:.2f}x |")
    print()
    print("| what | threads | median | min - max |")
    print("|---|---|---|---|")
    for row in extra:
        print(f"| {row['what']} | {row['threads']} | {row['value']} | {row['spread']} |")
    if memory:
        print()
        print("| draw | extra memory beyond the output (peak RSS growth) |")
        print("|---|---|")
        for name, b in memory.items():
            output = n * (8 if "f64" in name or "int64" in name or name == "randperm" else 4)
            print(f"| {name} | {b / 2**20:.2f} MiB ({b / output:.2f}x the output) |")


if __name__ == "__main__":
    main()
