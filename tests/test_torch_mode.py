"""keystream.torch_random / patch_torch: unmodified torch code draws keystream's numbers."""
from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import threading

import pytest
import torch
import torch.nn.functional as F

import keystream as ks
from keystream._engines import use_engine
from keystream._tools._conformance import same_bits

#: (torch code, the keystream call it equals), both given a generator.
SAME_AS_KEYSTREAM = [
    ("rand", lambda: torch.rand(3, 5), lambda g: ks.rand(3, 5, generator=g)),
    ("rand float64", lambda: torch.rand(7, dtype=torch.float64),
     lambda g: ks.rand(7, dtype=torch.float64, generator=g)),
    ("randn size=", lambda: torch.randn(size=(2, 3)), lambda g: ks.randn(2, 3, generator=g)),
    ("randint", lambda: torch.randint(3, 10, (6,)), lambda g: ks.randint(3, 10, (6,), generator=g)),
    ("randint high only", lambda: torch.randint(10, (6,)), lambda g: ks.randint(10, (6,), generator=g)),
    ("randperm", lambda: torch.randperm(9), lambda g: ks.randperm(9, generator=g)),
    ("normal tensors", lambda: torch.normal(torch.zeros(4), torch.ones(4) * 2),
     lambda g: ks.normal(torch.zeros(4), torch.ones(4) * 2, generator=g)),
    ("normal numbers", lambda: torch.normal(1.0, 2.0, (5,)), lambda g: ks.normal(1.0, 2.0, (5,), generator=g)),
    ("bernoulli(input)", lambda: torch.bernoulli(torch.full((6,), 0.3)),
     lambda g: ks.bernoulli(torch.full((6,), 0.3), generator=g)),
    ("Tensor.bernoulli(p)", lambda: torch.zeros(6).bernoulli(0.25),
     lambda g: ks.bernoulli(0.25, (6,), generator=g)),
    ("multinomial", lambda: torch.multinomial(torch.tensor([1.0, 2.0, 3.0]), 2),
     lambda g: ks.multinomial(torch.tensor([1.0, 2.0, 3.0]), 2, generator=g)),
    ("poisson", lambda: torch.poisson(torch.full((5,), 4.0)), lambda g: ks.poisson(torch.full((5,), 4.0), generator=g)),
    ("binomial", lambda: torch.binomial(torch.full((5,), 20.0), torch.full((5,), 0.4)),
     lambda g: ks.binomial(torch.full((5,), 20.0), torch.full((5,), 0.4), generator=g)),
    ("_standard_gamma", lambda: torch._standard_gamma(torch.full((5,), 2.0)),
     lambda g: ks.standard_gamma(torch.full((5,), 2.0), generator=g)),
    ("rand_like", lambda: torch.rand_like(torch.zeros(2, 2)), lambda g: ks.rand_like(torch.zeros(2, 2), generator=g)),
    ("uniform_", lambda: torch.empty(5).uniform_(-1, 2), lambda g: ks.uniform_(torch.empty(5), -1, 2, generator=g)),
    ("normal_", lambda: torch.empty(5).normal_(1.0, 3.0), lambda g: ks.normal_(torch.empty(5), 1.0, 3.0, generator=g)),
    ("random_", lambda: torch.empty(5).random_(0, 7), lambda g: ks.random_(torch.empty(5), 0, 7, generator=g)),
    ("exponential_", lambda: torch.empty(5).exponential_(2.0),
     lambda g: ks.exponential_(torch.empty(5), 2.0, generator=g)),
    ("geometric_", lambda: torch.empty(5).geometric_(0.3), lambda g: ks.geometric_(torch.empty(5), 0.3, generator=g)),
    ("log_normal_", lambda: torch.empty(5).log_normal_(), lambda g: ks.log_normal_(torch.empty(5), generator=g)),
    ("cauchy_", lambda: torch.empty(5).cauchy_(), lambda g: ks.cauchy_(torch.empty(5), generator=g)),
    ("bernoulli_", lambda: torch.empty(5).bernoulli_(0.7), lambda g: ks.bernoulli_(torch.empty(5), 0.7, generator=g)),
    ("nn.init.kaiming_uniform_", lambda: torch.nn.init.kaiming_uniform_(torch.empty(4, 6), a=0.1),
     lambda g: ks.init.kaiming_uniform_(torch.empty(4, 6), a=0.1, generator=g)),
    ("nn.init.trunc_normal_", lambda: torch.nn.init.trunc_normal_(torch.empty(4, 6), std=0.02),
     lambda g: ks.init.trunc_normal_(torch.empty(4, 6), std=0.02, generator=g)),
    ("dropout", lambda: F.dropout(torch.ones(4, 5), 0.4),
     lambda g: torch.ones(4, 5) * (ks.bernoulli(0.6, (4, 5), generator=g) / 0.6)),
    ("dropout2d", lambda: F.dropout2d(torch.ones(2, 3, 4, 4), 0.5),
     lambda g: torch.ones(2, 3, 4, 4) * (ks.bernoulli(0.5, (2, 3, 1, 1), generator=g) / 0.5)),
    ("dropout1d unbatched", lambda: F.dropout1d(torch.ones(3, 4), 0.5),
     lambda g: torch.ones(3, 4) * (ks.bernoulli(0.5, (1, 3, 1), generator=g) / 0.5)[0]),
]


@pytest.mark.parametrize("name,torch_code,keystream_code", SAME_AS_KEYSTREAM, ids=[c[0] for c in SAME_AS_KEYSTREAM])
def test_a_torch_call_in_the_mode_is_the_keystream_call(name, torch_code, keystream_code):
    with ks.torch_random(ks.Generator(11)):
        got = torch_code()
    assert same_bits(got, keystream_code(ks.Generator(11))), name


def test_what_torch_builds_on_its_draws_follows():
    with ks.torch_random(ks.Generator(1)):
        a = [torch.distributions.Normal(0.0, 1.0).sample((4,)), F.gumbel_softmax(torch.zeros(2, 5)),
             torch.distributions.Dirichlet(torch.ones(3)).sample(), list(torch.utils.data.RandomSampler(range(8))),
             F.rrelu(torch.full((5,), -1.0), training=True), F.alpha_dropout(torch.ones(6), 0.5, True)]
    with ks.torch_random(ks.Generator(1)):
        b = [torch.distributions.Normal(0.0, 1.0).sample((4,)), F.gumbel_softmax(torch.zeros(2, 5)),
             torch.distributions.Dirichlet(torch.ones(3)).sample(), list(torch.utils.data.RandomSampler(range(8))),
             F.rrelu(torch.full((5,), -1.0), training=True), F.alpha_dropout(torch.ones(6), 0.5, True)]
    for x, y in zip(a, b):
        assert same_bits(torch.as_tensor(x), torch.as_tensor(y))
    assert sorted(a[3]) == list(range(8))
    slopes = -a[4]
    assert bool(((slopes >= 1 / 8) & (slopes <= 1 / 3)).all())


def _model_step(generator_kind: str = "keystream") -> torch.Tensor:
    """An unmodified model and training step: a TransformerEncoder with dropout and torch's
    initialisers, torch.randn inputs, one SGD step; the loss after it."""
    torch_gen = torch.Generator().manual_seed(5) if generator_kind == "torch" else None
    layer = torch.nn.TransformerEncoderLayer(16, 2, 32, dropout=0.2, batch_first=True)
    model = torch.nn.Sequential(torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False),
                                torch.nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(4, 7, 16, generator=torch_gen)
    target = torch.randint(0, 3, (4, 7), generator=torch_gen)
    loss = F.cross_entropy(model(x).reshape(-1, 3), target.reshape(-1))
    loss.backward()
    opt.step()
    return F.cross_entropy(model(x).reshape(-1, 3), target.reshape(-1)).detach()


STEP_SCRIPT = """
import torch, keystream as ks, sys
sys.path.insert(0, {tests!r})
from test_torch_mode import _model_step
with ks.torch_random(ks.Generator(3)):
    print(_model_step({kind!r}).view(torch.int32).item())
"""


@pytest.mark.parametrize("kind", ["keystream", "torch"])
def test_an_unmodified_training_step_is_the_same_on_every_engine_and_process(kind):
    state = torch.random.get_rng_state()
    losses = {}
    for engine in ("cpu", "portable"):
        with use_engine(engine), ks.torch_random(ks.Generator(3)):
            losses[engine] = _model_step(kind)
    assert same_bits(losses["cpu"], losses["portable"])
    assert torch.equal(state, torch.random.get_rng_state())  # torch's generator was never used
    import os

    out = subprocess.run([sys.executable, "-c", STEP_SCRIPT.format(tests=os.path.dirname(__file__), kind=kind)],
                         capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) == losses["cpu"].view(torch.int32).item()


def test_torch_generators_are_streams_that_move_and_restart():
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    with ks.torch_random():
        a1, a2, b1 = torch.rand(4, generator=g1), torch.rand(4, generator=g2), torch.rand(4, generator=g1)
        g1.manual_seed(1)
        c1 = torch.rand(4, generator=g1)
    assert not torch.equal(a1, a2) and not torch.equal(a1, b1) and torch.equal(a1, c1)
    assert same_bits(a1, ks.rand(4, generator=ks.Generator(1).fold_in("torch.Generator")))


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("batched", [False, True])
def test_fractional_max_pooling_draws_its_samples_from_keystream(dims, batched):
    """torch's samples, rand(n_batch, channels, dims) in the input's dtype, drawn by keystream;
    nn.FractionalMaxPool*d and the functions with indices too; torch's generator untouched."""
    x = torch.arange(2 * 3 * 8 ** dims, dtype=torch.float64).reshape(2, 3, *[8] * dims).sin()
    x = x if batched else x[0]
    pool = getattr(F, f"fractional_max_pool{dims}d")
    module = getattr(torch.nn, f"FractionalMaxPool{dims}d")(2, output_ratio=0.5, return_indices=True)
    torch_state = torch.get_rng_state()
    with ks.torch_random(ks.Generator(1)) as g:
        a = pool(x, 2, output_size=4)
        b, idx = module(x)
        offset = g.offset
    assert torch.equal(torch.get_rng_state(), torch_state)
    ref = ks.Generator(1)
    for got, size in ((a, 4), (b, 4)):
        samples = ks.rand(2 if batched else 1, 3, dims, generator=ref, dtype=torch.float64)
        want = pool(x, 2, output_size=size, _random_samples=samples)
        assert torch.equal(got, want)
    assert ref.offset == offset and idx.shape == b.shape
    with ks.torch_random(ks.Generator(1)) as g:
        with pytest.raises((RuntimeError, ValueError)):
            pool(x, 2, output_size=100)  # (too large: torch's error, the samples' blocks given back)
        assert g.offset == 0


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("packed", [False, True])
def test_recurrent_dropout_between_layers_is_keystream_s(kind, packed):
    """A multi-layer RNN in training: one layer at a time, dropout's mask between layers."""
    from keystream.nn import functional as KF

    torch.manual_seed(0)
    rnn = getattr(torch.nn, kind)(4, 5, 3, dropout=0.4, bidirectional=True)
    x = torch.randn(6, 2, 4)
    lengths = torch.tensor([6, 4])
    feed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths) if packed else x
    with ks.torch_random(ks.Generator(3)) as g:
        got = rnn(feed)
    assert g.offset > 0
    want_g, y = ks.Generator(3), feed
    states = []
    for layer in range(3):
        one = getattr(torch.nn, kind)(4 if layer == 0 else 10, 5, 1, bidirectional=True)
        with torch.no_grad():
            for name, param in one.named_parameters():
                param.copy_(getattr(rnn, name.replace("_l0", f"_l{layer}")))
        y, state = one(y)
        states.append(state)
        if layer < 2:
            data = KF.dropout(y.data if packed else y, 0.4, generator=want_g)
            y = torch.nn.utils.rnn.PackedSequence(data, y.batch_sizes) if packed else data
    out = got[0].data if packed else got[0]
    assert torch.equal(out, y.data if packed else y)
    if kind == "LSTM":
        assert torch.equal(got[1][0], torch.cat([s[0] for s in states])) and torch.equal(
            got[1][1], torch.cat([s[1] for s in states]))
    else:
        assert torch.equal(got[1], torch.cat(states))
    with ks.torch_random(ks.Generator(3)) as g:
        rnn.eval()(feed)  # no dropout in eval: torch's function as it is, nothing drawn
    assert g.offset == 0


def test_the_mode_is_per_thread_and_leaves_torch_as_it_was():
    seen = {}

    def other():
        seen["uniform_"] = torch.Tensor.uniform_
        torch.manual_seed(0)
        seen["rand"] = torch.rand(3)

    with ks.torch_random(ks.Generator(1)):
        t = threading.Thread(target=other)
        t.start()
        t.join()
    torch.manual_seed(0)
    assert torch.equal(seen["rand"], torch.rand(3))  # the other thread drew torch's numbers
    assert torch.rand is torch._C._VariableFunctions.rand and "uniform_" not in vars(torch.Tensor)


def test_patch_torch_follows_torch_manual_seed():
    try:
        ks.patch_torch()
        torch.manual_seed(123)
        a = torch.rand(3)
        torch.manual_seed(123)
        b = torch.rand(3)
    finally:
        ks.unpatch_torch()
    assert torch.equal(a, b) and same_bits(a, ks.rand(3, generator=ks.Generator(123)))
    assert torch.manual_seed.__module__ == "torch.random"


def test_patch_torch_adopts_the_seed_torch_was_given_before(patched):
    torch.manual_seed(42)
    ks.patch_torch()
    assert same_bits(torch.rand(3), ks.rand(3, generator=ks.Generator(42)))


def test_torch_rng_state_functions_save_and_restore_keystream_under_the_patch(patched):
    torch_state = torch.random.default_generator.get_state()
    ks.patch_torch(5)
    state = torch.get_rng_state()
    a = torch.rand(4)
    torch.set_rng_state(state)
    assert torch.equal(torch.rand(4), a)
    with torch.random.fork_rng():  # isolate_rng, the sanity check: the outer stream unchanged
        torch.rand(9)
    b = torch.rand(4)
    torch.set_rng_state(state)
    torch.rand(4)
    assert torch.equal(torch.rand(4), b)
    # seed-then-restore (torchvision's FakeData): the stream continues, not reseeded
    saved = torch.get_rng_state()
    torch.manual_seed(3)
    torch.rand(2)
    torch.random.set_rng_state(saved)
    c = torch.rand(2)
    torch.set_rng_state(saved)
    assert torch.equal(torch.rand(2), c)
    # a checkpoint file round trip (a Trainer saves torch.random.get_rng_state())
    buffer = __import__("io").BytesIO()
    torch.save({"cpu": torch.random.get_rng_state()}, buffer)
    d = torch.rand(3)
    buffer.seek(0)
    torch.random.set_rng_state(torch.load(buffer)["cpu"])
    assert torch.equal(torch.rand(3), d)
    # a bad keystream part changes neither generator
    bad = torch.get_rng_state().clone()
    bad[-27] = 99  # the stream version byte
    before = torch.get_rng_state()
    with pytest.raises(ValueError, match="stream version"):
        torch.set_rng_state(bad)
    assert torch.equal(torch.get_rng_state(), before)
    # torch.seed() reseeds keystream with the seed it returns
    s = torch.seed()
    assert same_bits(torch.rand(3), ks.rand(3, generator=ks.Generator(s)))
    ks.unpatch_torch()
    assert torch.get_rng_state().numel() == torch_state.numel()
    torch.random.default_generator.set_state(torch_state)


def test_random_split_without_a_generator_draws_keystream_and_leaves_torch_alone(patched):
    torch_state = torch.random.default_generator.get_state()
    ks.patch_torch(4)
    parts = torch.utils.data.random_split(range(10), [0.5, 0.5])
    assert parts[0].indices + parts[1].indices == ks.randperm(10, generator=ks.Generator(4)).tolist()
    assert torch.equal(torch.random.default_generator.get_state(), torch_state)


def test_activation_checkpointing_recomputes_the_same_dropout_mask_under_the_patch(patched):
    from torch.utils.checkpoint import checkpoint

    layer = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Dropout(0.5))
    x = torch.randn(4, 8, requires_grad=True)

    def grads(use_checkpoint):
        ks.manual_seed(11)
        x.grad = None
        y = checkpoint(layer, x, use_reentrant=False) if use_checkpoint else layer(x)
        y.sum().backward()
        return x.grad.clone()

    ks.patch_torch(0)
    assert torch.equal(grads(True), grads(False))


def test_every_thread_draws_keystream_under_the_patch_and_any_thread_unpatches(patched):
    from concurrent.futures import ThreadPoolExecutor

    ks.patch_torch(7)
    seen = {}

    def other():
        seen["rand"] = torch.rand(3)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert same_bits(seen["rand"], ks.rand(3, generator=ks.Generator(7)))
    ks.manual_seed(8)
    with ThreadPoolExecutor(2) as pool:
        mask = pool.submit(lambda: F.dropout(torch.ones(64), 0.5)).result()
    with ks.torch_random(ks.Generator(8)):
        assert torch.equal(mask, F.dropout(torch.ones(64), 0.5))
    t = threading.Thread(target=ks.unpatch_torch)
    t.start()
    t.join()
    torch.manual_seed(0)
    u = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(u, torch.rand(3)) and not same_bits(u, ks.rand(3, generator=ks.Generator(0)))
    assert torch.rand is torch._C._VariableFunctions.rand and "uniform_" not in vars(torch.Tensor)
    ks.patch_torch(1)  # the patch works again after an unpatch from another thread
    assert same_bits(torch.rand(2), ks.rand(2, generator=ks.Generator(1)))
    ks.unpatch_torch()
    assert not torch._C._is_torch_function_mode_enabled()  # no closed mode left on this thread's stack


def test_transformers_model_is_reproducible_unmodified():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                  intermediate_size=64, max_position_embeddings=32)

    def loss(engine):
        with use_engine(engine), ks.torch_random(ks.Generator(3)):
            model = transformers.BertForMaskedLM(cfg)
            model.train()
            ids = torch.randint(0, 100, (2, 10))
            return model(input_ids=ids, labels=ids).loss.detach()

    state = torch.random.get_rng_state()
    assert same_bits(loss("cpu"), loss("portable"))
    assert torch.equal(state, torch.random.get_rng_state())


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
@pytest.mark.parametrize("workers,context", [(0, None), (2, "fork"), (3, "fork"), (2, "spawn")])
def test_per_sample_transforms_that_call_torch_are_the_same_for_any_workers(workers, context):
    from _worker_data import add_torch_rand
    from keystream.data import PerSampleDataset

    ds = PerSampleDataset(list(range(12)), seed=4, transform=add_torch_rand)
    want = [ds[i] for i in range(12)]
    loader = torch.utils.data.DataLoader(ds, batch_size=5, num_workers=workers, multiprocessing_context=context)
    got = [v for batch in loader for v in batch.tolist()]
    assert got == want


def test_torch_generator_bridge():
    g = ks.Generator(9)
    a, b = g.torch_generator(), g.torch_generator()
    assert a.initial_seed() != b.initial_seed() and g.offset == 0 and g.spawn_count == 2
    assert ks.Generator(9).torch_generator().initial_seed() == a.initial_seed()
    # the seed: the first 63 bits of the next spawned child's first 64-bit word
    word = ks.bits(1, dtype=torch.uint64, generator=ks.Generator(9).spawn(1)[0]).view(torch.int64).item()
    assert a.initial_seed() == word & (2**63 - 1)


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_patch_torch_reaches_dataloader_workers(context):
    from _worker_data import TorchRandDraws

    def run():
        loader = torch.utils.data.DataLoader(TorchRandDraws(6), batch_size=1, num_workers=2,
                                             multiprocessing_context=context)
        return torch.cat(list(loader))

    try:
        ks.patch_torch(21)
        first = run()
        ks.manual_seed(21)
        second = run()
    finally:
        ks.unpatch_torch()
    torch.manual_seed(21)
    unpatched = run()
    assert torch.equal(first, second)  # reproducible
    assert not torch.equal(first[0], first[1])  # worker 0 and worker 1 do not repeat each other
    assert not torch.equal(first, unpatched)  # keystream's numbers, not torch's


def test_model_code_inside_a_default_device_context():
    """``with torch.device("meta")`` (model code that builds on the meta device): keystream's
    helper tensors stay on the CPU, results go where the draw says, and under the mode torch's
    factories follow torch's default device."""
    with torch.device("meta"):
        assert ks.rand(3, generator=ks.Generator(1)).device.type == "cpu"  # the generator's device
        assert ks.poisson(2.0, (3,), generator=ks.Generator(1)).device.type == "cpu"
        with ks.torch_random(ks.Generator(1)) as g:
            layer = torch.nn.Linear(8, 4)
            x = torch.rand(2, 3)
    assert layer.weight.device.type == "meta" and x.device.type == "meta" and g.offset > 0


def test_complex_rand_and_randn_are_the_real_draws_of_the_parts():
    """NOTE [ complex draws ]: torch's complex dtypes, inside the mode and out."""
    z = ks.randn(3, 4, dtype=torch.complex64, generator=ks.Generator(1))
    parts = ks.normal(0.0, 0.5 ** 0.5, (3, 4, 2), generator=ks.Generator(1))
    assert same_bits(torch.view_as_real(z), parts)
    u = ks.rand(5, dtype=torch.complex128, generator=ks.Generator(2))
    assert same_bits(torch.view_as_real(u), ks.rand(5, 2, dtype=torch.float64, generator=ks.Generator(2)))
    assert same_bits(ks.randn(6, dtype=torch.complex64, generator=ks.Generator(1), region=slice(2, 5)),
                     ks.randn(6, dtype=torch.complex64, generator=ks.Generator(1))[2:5])
    out = torch.empty(4, dtype=torch.complex64)
    assert ks.randn(4, generator=ks.Generator(3), out=out) is out
    with ks.torch_random(ks.Generator(1)):
        assert same_bits(torch.randn(3, 4, dtype=torch.complex64), z)


def test_native_dropout_is_dropout_s_mask_and_torch_s_edge_results():
    x = torch.randn(5, 7, generator=torch.Generator().manual_seed(1))
    with ks.torch_random(ks.Generator(6)):
        out, mask = torch.native_dropout(x, 0.3, True)
        off, ones = torch.native_dropout(x, 0.3, False)
        zero, none = torch.native_dropout(x, 1.0, True)
    with ks.torch_random(ks.Generator(6)):
        want = F.dropout(x, 0.3)
    assert torch.equal(out, want) and torch.equal(mask, want != 0) and mask.dtype == torch.bool
    assert torch.equal(off, x) and bool(ones.all()) and torch.equal(zero, x * 0) and not bool(none.any())


def test_patch_torch_can_seed_python_s_and_numpy_s_generators(patched):
    import random

    import numpy as np

    from _worker_data import GlobalDraws

    ks.patch_torch(5, seed_globals=True)
    a = (random.random(), np.random.rand())
    torch.manual_seed(5)  # seed_everything's call
    assert (random.random(), np.random.rand()) == a
    torch.manual_seed(6)
    assert (random.random(), np.random.rand()) != a

    def run():
        torch.manual_seed(7)
        loader = torch.utils.data.DataLoader(GlobalDraws(4), batch_size=1, num_workers=2,
                                             multiprocessing_context="fork")
        return torch.cat(list(loader))

    first, second = run(), run()
    assert torch.equal(first, second)  # the workers' globals follow the seed
    assert not torch.equal(first[0], first[1])  # worker 0 and worker 1 differ


@pytest.mark.parametrize("backend", ["eager", "aot_eager", "inductor"])
def test_compiled_dropout_under_the_mode_equals_eager(backend):
    """nn.Dropout / F.dropout / alpha dropout in a compiled model (fullgraph) under the mode:
    keystream's masks, eager's numbers, new ones each call, torch's generator untouched."""
    torch._dynamo.reset()
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.AlphaDropout(0.2),
                                torch.nn.Linear(8, 2))
    x = torch.ones(3, 4)
    torch_state = torch.get_rng_state()
    with ks.torch_random(ks.Generator(5)) as g:
        compiled = torch.compile(model, backend=backend, fullgraph=True)
        got = [compiled(x) for _ in range(3)]
    with ks.torch_random(ks.Generator(5)):
        want = [model(x) for _ in range(3)]
    assert all(torch.equal(a, b) for a, b in zip(got, want)) and not torch.equal(got[0], got[1])
    assert g.offset > 0 and torch.equal(torch.get_rng_state(), torch_state)


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_compiled_function_draws_from_the_generator_of_each_call(backend):
    """NOTE [ Dynamo and the wrappers ]: a function compiled once draws, at each call, from the
    generator of the mode open at that call (a graph input, not a constant of the first call)."""
    torch._dynamo.reset()

    def f(x):
        return F.dropout(x, 0.5) + torch.rand(16) + torch.randn_like(x)

    x = torch.ones(16)
    compiled = torch.compile(f, backend=backend, fullgraph=True)
    got = []
    for seed in (1, 2, 1):
        with ks.torch_random(ks.Generator(seed)) as g:
            got.append((compiled(x), g.offset))
    want = []
    for seed in (1, 2, 1):
        with ks.torch_random(ks.Generator(seed)) as g:
            want.append((f(x), g.offset))
    assert all(torch.equal(a, b) and m == n for (a, m), (b, n) in zip(got, want))
    assert torch.equal(got[0][0], got[2][0]) and not torch.equal(got[0][0], got[1][0])


def test_inductor_under_patch_torch_equals_eager(patched):
    """inductor compiles draws, dropout and in-place draws under patch_torch (its own pattern
    library traced with torch's functions: NOTE [ inductor's own patterns ])."""
    torch._dynamo.reset()

    def f(x):
        return torch.rand(3, 4) + torch.randn_like(x) + F.dropout(x, 0.3) + torch.empty_like(x).uniform_(-1, 1)

    x = torch.ones(3, 4)
    torch_state = torch.get_rng_state()
    ks.patch_torch(11)
    try:
        compiled = torch.compile(f, backend="inductor", fullgraph=True)
        got = [compiled(x) for _ in range(2)]
        ks.manual_seed(11)
        want = [f(x) for _ in range(2)]
    finally:
        ks.unpatch_torch()
    assert all(torch.equal(a, b) for a, b in zip(got, want)) and not torch.equal(got[0], got[1])
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_first_compile_under_the_patch_traces_the_wrappers():
    """Dynamo imported for the first time under patch_torch (its table of torch functions then
    made with the wrappers in place): the compiled model still draws keystream's masks at each
    call (NOTE [ Dynamo and the wrappers ]).  In a fresh process: Dynamo is imported once."""
    code = textwrap.dedent("""
        import sys, torch, keystream as ks
        assert "torch._dynamo" not in sys.modules
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2))
        x = torch.ones(3, 4)
        ks.patch_torch(5)
        compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
        got = [compiled(x) for _ in range(3)]
        ks.manual_seed(5)
        want = [model(x) for _ in range(3)]
        ks.unpatch_torch()
        assert all(torch.equal(a, b) for a, b in zip(got, want)) and not torch.equal(got[0], got[1])
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_patch_torch_needs_no_function_mode_and_rebinds_early_references(patched):
    """NOTE [ patch_torch without a function mode ]: no per-call mode; a module that took
    torch.randn before the patch draws keystream's numbers through it, and gets torch's back."""
    import types

    early = types.ModuleType("early_user_module")
    exec("from torch import randn\nfrom torch.nn.functional import dropout", early.__dict__)
    sys.modules[early.__name__] = early
    try:
        torch_state = torch.get_rng_state()
        ks.patch_torch(3)
        assert not torch._C._is_torch_function_mode_enabled()
        got = early.randn(5)
        x = torch.ones(4, 6)
        dropped = early.dropout(x, 0.5, True)
        ks.unpatch_torch()
        ref = ks.Generator(3)
        assert same_bits(got, ks.randn(5, generator=ref))
        assert torch.equal(dropped, x * ks.bernoulli(0.5, (4, 6), generator=ref) / 0.5)
        assert torch.equal(torch.get_rng_state(), torch_state)
        assert early.randn is torch.randn and "keystream" not in getattr(early.randn, "__module__", "")
    finally:
        del sys.modules[early.__name__]


def test_compiled_dropout_under_patch_torch_equals_eager(patched):
    torch._dynamo.reset()
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5))
    x = torch.ones(3, 4)
    ks.patch_torch(5)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    got = [compiled(x) for _ in range(2)]
    ks.manual_seed(5)
    want = [model(x) for _ in range(2)]
    assert all(torch.equal(a, b) for a, b in zip(got, want)) and not torch.equal(got[0], got[1])


def test_torch_s_derivatives_under_the_mode():
    """NOTE [ torch's derivatives under the mode ]: the reparameterised gamma (backward and
    forward mode), zero derivatives of normal / bernoulli / poisson, with keystream's values."""
    import torch.autograd.forward_ad as fwAD

    alpha = torch.tensor([2.0, 0.5, 7.0], dtype=torch.float64, requires_grad=True)
    with ks.torch_random(ks.Generator(3)):
        x = torch._standard_gamma(alpha)
        (grad,) = torch.autograd.grad(x.sum(), alpha)
        with fwAD.dual_level():
            dual = fwAD.make_dual(alpha.detach(), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64))
            y = torch._standard_gamma(dual)
            tangent = fwAD.unpack_dual(y).tangent
        m, p, r = (torch.tensor(v, requires_grad=True) for v in ([0.0, 1.0], [0.3, 0.6], [3.0, 5.0]))
        samples = [torch.normal(m, 2.0), torch.normal(m, m.detach() + 1), torch.bernoulli(p), torch.poisson(r)]
    want = ks.standard_gamma(alpha.detach(), generator=ks.Generator(3))
    assert torch.equal(x.detach(), want)
    assert torch.equal(grad, torch._standard_gamma_grad(alpha.detach(), want))
    assert torch.allclose(tangent, torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
                          * torch._standard_gamma_grad(alpha.detach(), fwAD.unpack_dual(y).primal))
    for s, params in zip(samples, ((m,), (m,), (p,), (r,))):
        assert s.requires_grad
        assert all(torch.equal(gr, torch.zeros_like(gr)) for gr in torch.autograd.grad(s.sum(), params))
    with ks.torch_random(ks.Generator(4)):  # (the same numbers as without gradients)
        with_grad = torch.normal(m, 2.0)
    with ks.torch_random(ks.Generator(4)):
        plain = torch.normal(m.detach(), 2.0)
    assert torch.equal(plain, with_grad.detach())


def test_torch_s_edge_values_and_dtype_checks_under_the_mode():
    a = torch.tensor([0.0, -1.0, math.nan, math.inf, 1e-3, 2.0])
    with ks.torch_random(ks.Generator(1)):
        x = torch._standard_gamma(a)
        d = torch._sample_dirichlet(torch.tensor([[1e-3, 1e-3], [1e-30, 1.0]]))
        with pytest.raises(ValueError, match="floating-point dtypes for count"):
            torch.binomial(torch.tensor([5]), torch.tensor([0.5]))
    tiny = torch.finfo(torch.float32).tiny
    assert x[:3].tolist() == [tiny] * 3 and x[3] == math.inf and bool((x[4:] >= tiny).all())
    assert bool((d >= tiny).all()) and bool((d < 1).all())
    beta = torch.distributions.Beta(torch.tensor([1e-3]), torch.tensor([1e-3]))
    with ks.torch_random(ks.Generator(2)):
        assert bool(torch.isfinite(beta.log_prob(beta.sample((200,)))).all())


def test_jit_trace_of_a_draw_is_refused_clearly():
    state = ks.default_generator.get_state()
    with pytest.raises(RuntimeError, match="torch.jit.trace"):
        torch.jit.trace(lambda x: x + ks.rand(3), torch.zeros(3))
    with pytest.raises(RuntimeError, match="torch.jit.trace"):
        torch.jit.trace(lambda x: x + ks.uniform(0.0, 1.0, (3,)), torch.zeros(3))
    assert torch.equal(ks.default_generator.get_state(), state)
