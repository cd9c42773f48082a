"""Draws made of other draws: multinomial and the gamma family."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import keystream as ks
from keystream._engines import use_engine
from keystream._tools._conformance import same_bits
from keystream._torch import _composite
from test_stats import chi2, chi2_critical


def test_without_replacement_has_the_exact_ordered_pair_probabilities():
    """P(first = i, second = j) = w_i / W * w_j / (W - w_i): chi-square over all 12 pairs."""
    w = torch.tensor([1.0, 2.0, 3.0, 4.0])
    n = 200_000
    picks = ks.multinomial(w.repeat(n, 1), 2, generator=ks.Generator(11))
    counts = torch.bincount(picks[:, 0] * 4 + picks[:, 1], minlength=16).double()
    total = float(w.sum())
    pairs = [(i, j) for i, j in itertools.permutations(range(4), 2)]
    expected = torch.tensor([n * float(w[i]) / total * float(w[j]) / (total - float(w[i])) for i, j in pairs])
    observed = torch.stack([counts[i * 4 + j] for i, j in pairs])
    assert counts.sum() == n and all(counts[i * 5] == 0 for i in range(4))  # never the same twice
    assert chi2(observed, expected) < chi2_critical(len(pairs) - 1)


def test_with_replacement_frequencies():
    w = torch.tensor([[0.0, 1.0, 2.0, 3.0, 0.5], [7.0, 0.0, 0.0, 1.0, 2.0]], dtype=torch.float64)
    n = 300_000
    picks = ks.multinomial(w, n, replacement=True, generator=ks.Generator(12))
    for row in range(2):
        counts = torch.bincount(picks[row], minlength=5).double()
        keep = w[row] > 0
        assert counts[~keep].sum() == 0
        expected = n * w[row][keep] / w[row].sum()
        assert chi2(counts[keep], expected) < chi2_critical(int(keep.sum()) - 1)


@pytest.mark.parametrize("replacement", [False, True])
def test_every_engine_gives_the_same_indices(replacement):
    w = torch.rand(7, 1031, generator=torch.Generator().manual_seed(0)) ** 3
    w[2, ::3] = 0.0
    want = None
    for engine in ("reference", "portable", "cpu"):
        if engine not in ks.available_engines():
            continue
        with use_engine(engine):
            got = ks.multinomial(w, 40, replacement, generator=ks.Generator(13))
        want = got if want is None else want
        assert same_bits(got, want), engine
    assert want is not None and want.shape == (7, 40)


def test_a_1d_input_is_one_row_and_the_dtype_does_not_matter():
    w = torch.tensor([0.5, 0.0, 2.0, 1.0, 1.0])
    for replacement in (False, True):
        a = ks.multinomial(w, 3, replacement, generator=ks.Generator(14))
        b = ks.multinomial(w.unsqueeze(0).double(), 3, replacement, generator=ks.Generator(14))
        assert a.shape == (3,) and torch.equal(a, b[0])
    out = torch.empty(3, dtype=torch.int64)
    assert ks.multinomial(w, 3, generator=ks.Generator(14), out=out) is out


def test_consumption_is_the_words_it_uses():
    g = ks.Generator(15)
    ks.multinomial(torch.ones(3, 10), 4, generator=g)
    assert g.offset == 15  # ceil(30 / 2) float64 exponentials
    ks.multinomial(torch.ones(3, 10), 5, True, generator=g)
    assert g.offset == 15 + 8  # ceil(15 / 2) 64-bit words


def test_equal_keys_keep_index_order():
    keys = torch.tensor([[3.0, 1.0, 1.0, 0.5, 1.0], [2.0, 1.0, 0.0, 5.0, 4.0], [1.0, 1.0, 1.0, 1.0, 1.0]],
                        dtype=torch.float64)
    for n in (1, 2, 3, 5):
        assert torch.equal(_composite._smallest(keys, n), torch.sort(keys, dim=1, stable=True).indices[:, :n])


def test_generator_method_and_errors_leave_the_state():
    g = ks.Generator(16)
    assert torch.equal(g.multinomial(torch.ones(4), 2), ks.multinomial(torch.ones(4), 2, generator=ks.Generator(16)))


@pytest.mark.parametrize("replacement", [False, True])
def test_a_draw_between_the_check_and_the_reservation_is_served_at_the_new_offset(replacement, monkeypatch):
    """The C kernel runs before the blocks are reserved (it checks the weights as it reads
    them); if another draw moves the generator in between, the samples follow the blocks
    actually reserved."""
    w = torch.rand(5, 50, generator=torch.Generator().manual_seed(1))
    g = ks.Generator(17)
    reserve = ks.Generator._reserve
    moved = []

    def racing(self, blocks, version=None):  # type: ignore[no-untyped-def]
        if not moved:
            moved.append(True)
            self.offset += 3  # another thread's draw
        return reserve(self, blocks, version)

    monkeypatch.setattr(ks.Generator, "_reserve", racing)
    got = ks.multinomial(w, 4, replacement, generator=g)
    monkeypatch.setattr(ks.Generator, "_reserve", reserve)
    want_g = ks.Generator(17)
    want_g.offset = 3
    assert torch.equal(got, ks.multinomial(w, 4, replacement, generator=want_g))
    assert g.offset == want_g.offset


# ------------------------------------------------------------------ gamma family
def _ks(x: torch.Tensor, cdf) -> float:  # type: ignore[no-untyped-def]
    v = np.sort(x.double().numpy())
    c = cdf(v)
    i = np.arange(1, v.size + 1)
    return float(max((i / v.size - c).max(), (c - (i - 1) / v.size).max()))


def _ks_critical(n: int) -> float:
    return float((-np.log(1e-6 / 2) / 2) ** 0.5 / n ** 0.5)


N = 1 << 17


@pytest.mark.parametrize("alpha", [0.05, 0.3, 1.0, 2.5, 40.0])
def test_standard_gamma_ks(alpha):
    stats = pytest.importorskip("scipy.stats")
    x = ks.standard_gamma(alpha, (N,), generator=ks.Generator(21), dtype=torch.float64)
    assert float(x.min()) >= 0
    assert _ks(x, stats.gamma(alpha).cdf) < _ks_critical(N)


def test_gamma_beta_chi2_student_t_ks():
    stats = pytest.importorskip("scipy.stats")
    g = ks.Generator(22)
    f64 = torch.float64
    cases = [
        (ks.gamma(3.0, 2.0, (N,), generator=g, dtype=f64), stats.gamma(3.0, scale=0.5).cdf),
        (ks.beta(0.4, 2.0, (N,), generator=g, dtype=f64), stats.beta(0.4, 2.0).cdf),
        (ks.chi2(3.0, (N,), generator=g, dtype=f64), stats.chi2(3.0).cdf),
        (ks.student_t(4.0, (N,), generator=g, dtype=f64), stats.t(4.0).cdf),
        (ks.dirichlet(torch.tensor([0.5, 1.5, 2.0], dtype=f64).expand(N, 3).contiguous(), generator=g)[:, 1],
         stats.beta(1.5, 2.5).cdf),  # a Dirichlet marginal is a Beta
    ]
    for x, cdf in cases:
        assert _ks(x, cdf) < _ks_critical(N)


def test_gamma_family_is_the_same_on_every_engine_and_for_tensor_parameters():
    alpha = torch.tensor([[0.2, 1.0, 7.5], [3.0, 0.9, 1e-3]])
    results = {}
    for engine in ("reference", "portable", "cpu"):
        if engine not in ks.available_engines():
            continue
        with use_engine(engine):
            results[engine] = [ks.standard_gamma(alpha, generator=ks.Generator(23)),
                               ks.beta(alpha, 2.0, generator=ks.Generator(23)),
                               ks.dirichlet(alpha, generator=ks.Generator(23)),
                               ks.student_t(alpha * 10, generator=ks.Generator(23))]
            # the kernels' direct paths: parameters of either float dtype, one or many, every
            # output dtype, a non-contiguous out, both stream versions, rejected candidates
            many = torch.rand(3001, generator=torch.Generator().manual_seed(5), dtype=torch.float64) * 3 + 1e-3
            for version in ks.STREAM_VERSIONS:
                g = ks.Generator(29, stream_version=version)
                strided = torch.empty(3001, 2, dtype=torch.float64)[:, 0]
                results[engine] += [
                    ks.standard_gamma(many, generator=g), ks.standard_gamma(many.float(), generator=g),
                    ks.standard_gamma(0.3, (5,), generator=g, dtype=torch.float16),
                    ks.gamma(many, many.flip(0).float(), generator=g), ks.gamma(2.5, 0.7, (7,), generator=g),
                    ks.chi2(many * 2, generator=g), ks.chi2(1e-3, (9,), generator=g, dtype=torch.bfloat16),
                    ks.gamma(many, 3.0, generator=g, out=strided),
                    ks.student_t(many.float() + 2, generator=g), ks.student_t(5.0, (7,), generator=g),
                    ks.student_t(many, generator=g, dtype=torch.float64)]
    first = next(iter(results.values()))
    for got in results.values():
        assert all(same_bits(a, b) for a, b in zip(got, first))
    # a tensor of equal values gives the bits of the number
    assert same_bits(ks.standard_gamma(torch.full((5,), 2.0), generator=ks.Generator(24)),
                     ks.standard_gamma(2.0, (5,), generator=ks.Generator(24), dtype=torch.float32))


def test_gamma_consumption_is_fixed():
    g = ks.Generator(25)
    ks.standard_gamma(torch.full((10,), 0.5), generator=g)
    assert g.offset == 6 * 10 + 65  # 120 float64 normals, 130 float64 exponentials
    g2 = ks.Generator(25)
    ks.standard_gamma(torch.full((10,), 50.0), generator=g2)
    assert g2.offset == g.offset


def test_the_cpu_square_root_is_the_stream_maths():
    """The composite draws' CPU square root (numpy's IEEE sqrt) equals the torch form the
    other devices use, on random values, near squares and at the ends of the range."""
    from keystream._core._math.torch_forms import sqrt_f64

    rng = np.random.default_rng(3)
    squares = (np.arange(1, 5000, dtype=np.float64) ** 2)
    x = np.concatenate([rng.uniform(0, 10, 20000), np.exp(rng.uniform(-700, 700, 20000)), squares,
                        np.nextafter(squares, 0), np.nextafter(squares, np.inf), [5e-324, 1e-310, 1.7e308, 0.0]])
    t = torch.from_numpy(x)
    assert same_bits(_composite._sqrt(t), sqrt_f64(t))


REGIONS = [(slice(2, 5), slice(3, 8)), (slice(0, 7), slice(4, 5)), (slice(6, 7),), (slice(1, 3), slice(0, 9)),
           (slice(3, 3),)]
GAMMA_FAMILY = {
    "standard_gamma": lambda **k: ks.standard_gamma(0.7, (7, 9), **k),
    "gamma": lambda **k: ks.gamma(2.5, 3.0, (7, 9), **k),
    "chi2": lambda **k: ks.chi2(3.0, (7, 9), **k),
    "beta": lambda **k: ks.beta(0.5, 2.0, (7, 9), **k),
    "student_t": lambda **k: ks.student_t(4.0, (7, 9), **k),
}


def check_regions(draw, seed: int) -> None:
    """On every engine, each of REGIONS is the full draw cut, and advances the generator as it."""
    for engine in [e for e in ("portable", "cpu") if e in ks.available_engines()]:
        with use_engine(engine):
            g = ks.Generator(seed)
            full = draw(generator=g)
            for region in REGIONS:
                h = ks.Generator(seed)
                assert same_bits(draw(generator=h, region=region), full[region]), (engine, region)
                assert h.offset == g.offset


@pytest.mark.parametrize("name", sorted(GAMMA_FAMILY))
def test_a_region_is_the_full_draw_cut_and_advances_as_it(name):
    check_regions(GAMMA_FAMILY[name], 31)


@pytest.mark.parametrize("version", [1, 2])
def test_beta_and_dirichlet_in_pieces_are_the_draw_in_one(version, monkeypatch):
    """_by_rows: pieces of a few rows (bounded memory) give the one-piece numbers, with tiny
    parameters (log space), a region, number and broadcast parameters, on every engine."""
    from keystream._torch import _composite

    a = torch.tensor([[1e-3], [0.5], [2.0], [7.0]]).expand(4, 9)
    b = torch.linspace(0.01, 5.0, 9)
    spread = torch.rand(6, 3, generator=torch.Generator().manual_seed(0)) * 3 + 0.1
    alpha = torch.cat([torch.full((5, 3), 1e-3), spread])
    calls = [lambda g: ks.beta(a, b, generator=g),
             lambda g: ks.beta(0.7, 2.0, (5, 7), generator=g, dtype=torch.float64),
             lambda g: ks.beta(0.3, 1.5, (4, 9), generator=g, region=(slice(1, 3), slice(2, 8))),
             lambda g: ks.dirichlet(alpha, generator=g), lambda g: ks.dirichlet(alpha.double(), generator=g)]
    for engine in [e for e in ("portable", "cpu") if e in ks.available_engines()]:
        with use_engine(engine):
            whole = [call(ks.Generator(4, stream_version=version)) for call in calls]
            monkeypatch.setattr(_composite, "GAMMAS_AT_A_TIME", 11)  # (5 rows of beta, 3 of dirichlet)
            gens = [ks.Generator(4, stream_version=version) for _ in calls]
            pieces = [call(g) for call, g in zip(calls, gens)]
            monkeypatch.setattr(_composite, "GAMMAS_AT_A_TIME", 1 << 18)
        assert all(same_bits(x, y) for x, y in zip(whole, pieces)), engine
        ref = ks.Generator(4, stream_version=version)
        calls[0](ref)
        assert gens[0].offset == ref.offset


@pytest.mark.skipif("cpu" not in ks.available_engines(), reason="no C engine")
@pytest.mark.parametrize("version", [1, 2])
def test_beta_and_dirichlet_rows_in_c_are_the_torch_forms(version):
    """Engine.gamma_rows (the C engine's beta and dirichlet from their Gammas) gives the bits
    of the torch forms the portable engine runs: rows in log space and not, mixed, long rows
    (past the kernel's chunk), float16/32/64 parameters, and the rows of tiny parameters whose
    logs are all -inf (NaN, as the torch forms give)."""
    mixed = torch.full((37, 4), 0.5, dtype=torch.float64)
    mixed[::3] = 1.5
    calls = [lambda g, a=a: ks.dirichlet(a, generator=g) for a in (
        mixed, mixed.float(), mixed.half(), torch.full((5, 600), 1e-3), torch.full((9, 1), 0.2),
        torch.full((3, 2), 1e-300, dtype=torch.float64), torch.full((6, 3), 2.5))]
    calls += [lambda g, a=a, b=b, dt=dt: ks.beta(a, b, (301,), generator=g, dtype=dt)
              for a, b in ((0.5, 0.5), (1e-3, 2.0), (2.0, 3.0), (1e-300, 1e-300), (0.3, 1e-200))
              for dt in (torch.float32, torch.float64)]
    calls.append(lambda g: ks.beta(torch.tensor([0.5, 2.0] * 50, dtype=torch.float64), 3.0, generator=g))
    check_c_against_portable(calls, 5, version)


def check_c_against_portable(calls, seed: int, version: int) -> None:
    """Each call of a generator gives the same bits on the C engine as on the portable one."""
    for call in calls:
        with use_engine("portable"):
            want = call(ks.Generator(seed, stream_version=version))
        with use_engine("cpu"):
            got = call(ks.Generator(seed, stream_version=version))
        assert same_bits(got, want)


@pytest.mark.skipif("cpu" not in ks.available_engines(), reason="no C engine")
@pytest.mark.parametrize("version", [1, 2])
def test_gamma_kernel_rejected_candidates_in_lanes_are_the_definition(version):
    """The C kernel gathers the elements whose first candidate is rejected and runs their later
    candidates in vector lanes: thousands of them (alpha near 1 and below it, the boost), split
    over two threads, with rate, numer, float32 results and logs, give the portable engine's bits."""
    n = 20000
    alpha = torch.rand(n, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 + 1e-3
    rate = torch.rand(n, generator=torch.Generator().manual_seed(2)) + 0.5
    calls = [lambda g: ks.standard_gamma(alpha, generator=g),
             lambda g: ks.standard_gamma(1.0, (n,), generator=g, dtype=torch.float32),
             lambda g: ks.gamma(0.7, rate, generator=g),
             lambda g: ks.student_t(1.5, (n,), generator=g, dtype=torch.float64),
             lambda g: ks.beta(0.5, 0.9, (n // 2,), generator=g, dtype=torch.float64),
             lambda g: ks.standard_gamma(0.9, (300, 200), generator=g, region=(slice(3, 250), slice(7, 190)))]
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        check_c_against_portable(calls, 11, version)
    finally:
        torch.set_num_threads(threads)
