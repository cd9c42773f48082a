"""Bad input raises a clear exception naming the argument and leaves the state unchanged."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import keystream as ks
import keystream.init as init
import keystream.montecarlo as mc
import keystream.nn as knn
import keystream.nn.functional as KF
import keystream.numpy as ksnp
from keystream.data import ShuffleSampler

BAD = [
    ("negative size", lambda g: g.rand(3, -1), ValueError, "size"),
    ("float size", lambda g: g.rand(2.5), TypeError, "size"),
    ("bool size", lambda g: g.randn(True), TypeError, "size"),
    ("randint low >= high", lambda g: g.randint(5, 5, (3,)), ValueError, "low < high"),
    ("randint float high", lambda g: g.randint(0, 2.5, (3,)), TypeError, "high"),
    ("randint range too big for dtype", lambda g: g.randint(0, 300, (3,), dtype=torch.int8), ValueError, "int8"),
    ("randint complex dtype", lambda g: g.randint(0, 3, (3,), dtype=torch.complex64), TypeError, "dtype"),
    ("randint missing size", lambda g: g.randint(10), TypeError, "size"),
    ("uniform low > high", lambda g: g.uniform(2.0, 1.0, (3,)), ValueError, "low <= high"),
    ("uniform overflowing span", lambda g: g.uniform(-3e38, 3e38, (3,), dtype=torch.float32), ValueError, "overflows"),
    ("uniform nan", lambda g: g.uniform(math.nan, 1.0, (3,)), ValueError, "low <= high"),
    ("uniform no size", lambda g: g.uniform(0.0, 1.0), TypeError, "size"),
    ("std < 0", lambda g: g.normal(0.0, -1.0, (3,)), ValueError, "std"),
    ("std nan", lambda g: g.normal(0.0, math.nan, (3,)), ValueError, "std"),
    ("std tensor < 0", lambda g: g.normal(torch.zeros(3), torch.tensor([1.0, -1.0, 1.0])), ValueError, "std"),
    ("mean and std do not broadcast", lambda g: g.normal(torch.zeros(3), torch.ones(4)), ValueError, "mean"),
    ("p does not broadcast to size", lambda g: g.bernoulli(torch.zeros(3), (4,)), ValueError, "p has shape"),
    ("mean string", lambda g: g.normal("a", 1.0, (3,)), TypeError, "mean"),
    ("p > 1", lambda g: g.bernoulli(1.5, (3,)), ValueError, "p must be"),
    ("p < 0", lambda g: g.bernoulli(-0.1, (3,)), ValueError, "p must be"),
    ("p nan", lambda g: g.bernoulli(math.nan, (3,)), ValueError, "p must be"),
    ("p tensor outside", lambda g: g.bernoulli(torch.tensor([0.5, 2.0])), ValueError, "p must be"),
    ("lambd <= 0", lambda g: g.exponential(3, lambd=0.0), ValueError, "lambd"),
    ("lambd < 0", lambda g: g.exponential(3, lambd=-2.0), ValueError, "lambd"),
    ("lambd nan", lambda g: g.exponential(3, lambd=math.nan), ValueError, "lambd"),
    ("cauchy sigma 0", lambda g: g.cauchy(3, sigma=0.0), ValueError, "sigma"),
    ("cauchy sigma nan", lambda g: g.cauchy(3, sigma=math.nan), ValueError, "sigma"),
    ("cauchy median inf", lambda g: g.cauchy(3, median=math.inf), ValueError, "median"),
    ("cauchy median string", lambda g: g.cauchy(3, median="0"), TypeError, "median"),
    ("cauchy median overflows float32", lambda g: g.cauchy(3, median=1e300), ValueError, "median"),
    ("normal mean nan", lambda g: g.normal(math.nan, 1.0, (3,)), ValueError, "mean"),
    ("normal mean tensor nan", lambda g: g.normal(torch.tensor([0.0, math.nan]), 1.0), ValueError, "mean"),
    ("normal std overflows float32", lambda g: g.normal(0.0, 1e300, (3,)), ValueError, "std"),
    ("normal_ mean overflows float16's arithmetic", lambda g: ks.normal_(torch.empty(3, dtype=torch.float16), 1e39,
                                                                         generator=g), ValueError, "mean"),
    ("log_normal mean overflows float32", lambda g: g.log_normal(3, mean=-1e300), ValueError, "mean"),
    ("laplace scale overflows float32", lambda g: g.laplace(3, scale=1e39), ValueError, "scale"),
    ("laplace scale 0", lambda g: g.laplace(3, scale=0.0), ValueError, "scale"),
    ("laplace loc nan", lambda g: g.laplace(3, loc=math.nan), ValueError, "loc"),
    ("gumbel scale < 0", lambda g: g.gumbel(3, scale=-1.0), ValueError, "scale"),
    ("gumbel loc inf", lambda g: g.gumbel(3, loc=-math.inf), ValueError, "loc"),
    ("log_normal std 0", lambda g: g.log_normal(3, std=0.0), ValueError, "std"),
    ("log_normal mean nan", lambda g: g.log_normal(3, mean=math.nan), ValueError, "mean"),
    ("geometric p 0", lambda g: g.geometric(3, p=0.0), ValueError, "p must be"),
    ("geometric p 1", lambda g: g.geometric(3, p=1.0), ValueError, "p must be"),
    ("geometric p nan", lambda g: g.geometric(3, p=math.nan), ValueError, "p must be"),
    ("geometric no p", lambda g: g.geometric(3), TypeError, "p"),
    ("uniform_ not a tensor", lambda g: ks.uniform_([1.0, 2.0], generator=g), TypeError, "tensor"),
    ("uniform_ int tensor", lambda g: ks.uniform_(torch.zeros(3, dtype=torch.int64), generator=g), TypeError,
     "dtype"),
    ("normal_ std < 0", lambda g: ks.normal_(torch.empty(3), 0.0, -1.0, generator=g), ValueError, "std"),
    ("bernoulli_ p > 1", lambda g: ks.bernoulli_(torch.empty(3), 1.5, generator=g), ValueError, "p must be"),
    ("geometric_ p 0", lambda g: ks.geometric_(torch.empty(3), 0.0, generator=g), ValueError, "p must be"),
    ("random_ to <= from", lambda g: ks.random_(torch.empty(3), 5, 5, generator=g), ValueError, "low < high"),
    ("random_ float to", lambda g: ks.random_(torch.empty(3), 2.5, generator=g), TypeError, "to"),
    ("random_ to too big", lambda g: ks.random_(torch.empty(3, dtype=torch.int8), 0, 300, generator=g), ValueError,
     "int8"),
    ("random_ three numbers", lambda g: ks.random_(torch.empty(3), 1, 2, 3, generator=g), TypeError, "at most"),
    ("random_ bool to 3", lambda g: ks.random_(torch.empty(3, dtype=torch.bool), 0, 3, generator=g), ValueError,
     "bool"),
    ("random_ complex", lambda g: ks.random_(torch.empty(3, dtype=torch.complex64), generator=g), TypeError,
     "dtype"),
    ("rand_like not a tensor", lambda g: ks.rand_like(3, generator=g), TypeError, "input"),
    ("rand_like int", lambda g: ks.rand_like(torch.zeros(3, dtype=torch.int64), generator=g), TypeError, "dtype"),
    ("randint_like no high", lambda g: ks.randint_like(torch.zeros(3), generator=g), TypeError, "high"),
    ("randint_like bad device", lambda g: ks.randint_like(torch.zeros(3), 5, device="mps", generator=g), ValueError,
     "device"),
    ("randperm float too big", lambda g: g.randperm(3000, dtype=torch.float16), ValueError, "float16"),
    ("multinomial not a tensor", lambda g: g.multinomial([1.0, 2.0], 1), TypeError, "input"),
    ("multinomial int weights", lambda g: g.multinomial(torch.ones(3, dtype=torch.int64), 1), TypeError, "float"),
    ("multinomial 3-D", lambda g: g.multinomial(torch.ones(2, 2, 2), 1), ValueError, "1-D or 2-D"),
    ("multinomial 0 samples", lambda g: g.multinomial(torch.ones(3), 0), ValueError, "num_samples"),
    ("multinomial float samples", lambda g: g.multinomial(torch.ones(3), 1.5), TypeError, "num_samples"),
    ("multinomial too many samples", lambda g: g.multinomial(torch.ones(3), 4), ValueError, "num_samples"),
    ("multinomial negative weight", lambda g: g.multinomial(torch.tensor([1.0, -1.0]), 1), ValueError, "input"),
    ("multinomial nan weight", lambda g: g.multinomial(torch.tensor([1.0, math.nan]), 1, True), ValueError,
     "input"),
    ("multinomial inf weight", lambda g: g.multinomial(torch.tensor([1.0, math.inf]), 1), ValueError, "input"),
    ("multinomial zero row", lambda g: g.multinomial(torch.zeros(2, 3), 1, True), ValueError, "all 0"),
    ("multinomial too few weights > 0", lambda g: g.multinomial(torch.tensor([1.0, 0.0, 0.0]), 2), ValueError,
     "fewer"),
    ("multinomial no categories", lambda g: g.multinomial(torch.ones(2, 0), 1, True), ValueError, "categories"),
    ("multinomial out shape", lambda g: g.multinomial(torch.ones(3), 2, out=torch.empty(3, dtype=torch.int64)),
     ValueError, "out"),
    ("multinomial meta", lambda g: g.multinomial(torch.ones(3, device="meta"), 1), ValueError, "meta"),
    ("standard_gamma alpha 0", lambda g: g.standard_gamma(0.0, (3,)), ValueError, "alpha"),
    ("standard_gamma alpha tensor nan", lambda g: g.standard_gamma(torch.tensor([1.0, math.nan])), ValueError,
     "alpha"),
    ("standard_gamma no size", lambda g: g.standard_gamma(2.0), TypeError, "size"),
    ("gamma rate < 0", lambda g: g.gamma(2.0, -1.0, (3,)), ValueError, "rate"),
    ("beta b inf", lambda g: g.beta(1.0, math.inf, (3,)), ValueError, "b"),
    ("chi2 df string", lambda g: g.chi2("3", (3,)), TypeError, "df"),
    ("student_t df 0", lambda g: g.student_t(0.0, (3,)), ValueError, "df"),
    ("dirichlet not a tensor", lambda g: g.dirichlet([1.0, 2.0]), TypeError, "alpha"),
    ("dirichlet 0-d", lambda g: g.dirichlet(torch.tensor(1.0)), ValueError, "alpha"),
    ("dirichlet alpha < 0", lambda g: g.dirichlet(torch.tensor([1.0, -1.0])), ValueError, "alpha"),
    ("gamma int dtype", lambda g: g.gamma(2.0, 1.0, (3,), dtype=torch.int32), TypeError, "dtype"),
    ("poisson rate < 0", lambda g: g.poisson(torch.tensor([1.0, -1.0])), ValueError, "rate"),
    ("poisson rate nan", lambda g: g.poisson(math.nan, (3,)), ValueError, "rate"),
    ("poisson rate inf", lambda g: g.poisson(torch.tensor([math.inf])), ValueError, "rate"),
    ("poisson no size", lambda g: g.poisson(2.0), TypeError, "size"),
    ("poisson int dtype", lambda g: g.poisson(2.0, (3,), dtype=torch.int64), TypeError, "dtype"),
    ("binomial count not whole", lambda g: g.binomial(torch.tensor([2.5]), 0.5), ValueError, "count"),
    ("binomial count < 0", lambda g: g.binomial(-1.0, 0.5, (2,)), ValueError, "count"),
    ("binomial prob > 1", lambda g: g.binomial(3.0, torch.tensor([0.5, 1.5])), ValueError, "prob"),
    ("binomial prob nan", lambda g: g.binomial(3.0, math.nan, (2,)), ValueError, "prob"),
    ("binomial shapes", lambda g: g.binomial(torch.ones(3), torch.full((2,), 0.5)), ValueError, "broadcast"),
    ("binomial out dtype", lambda g: g.binomial(3.0, 0.5, (2,), out=torch.empty(2, dtype=torch.int64)), TypeError,
     "out"),
    ("poisson region of tensor rates", lambda g: g.poisson(torch.ones(4), region=(slice(0, 2),)), ValueError,
     "region"),
    ("gamma region out of bounds", lambda g: g.gamma(2.0, 1.0, (3,), region=(slice(0, 5),)), IndexError, "region"),
    ("layout sparse", lambda g: g.rand(3, layout=torch.sparse_coo), ValueError, "layout"),
    ("requires_grad of integers", lambda g: g.randint(0, 5, (3,), requires_grad=True), RuntimeError, "requires_grad"),
    ("requires_grad of int dtype", lambda g: g.bernoulli(0.5, (3,), dtype=torch.int32, requires_grad=True),
     RuntimeError, "requires_grad"),
    ("cauchy int dtype", lambda g: g.cauchy(3, dtype=torch.int32), TypeError, "dtype"),
    ("rand int dtype", lambda g: g.rand(3, dtype=torch.int64), TypeError, "dtype"),
    ("randn int dtype", lambda g: g.randn(3, dtype=torch.int32), TypeError, "dtype"),
    ("bits float dtype", lambda g: g.bits(3, dtype=torch.float32), TypeError, "dtype"),
    ("randperm negative", lambda g: g.randperm(-1), ValueError, "n must be"),
    ("randperm float", lambda g: g.randperm(3.0), TypeError, "n must be"),
    ("randperm too big for dtype", lambda g: g.randperm(70000, dtype=torch.int16), ValueError, "int16"),
    ("region out of bounds", lambda g: g.rand(4, 5, region=(slice(0, 5),)), IndexError, "region[0]"),
    ("region negative", lambda g: g.rand(4, region=(slice(-1, 2),)), IndexError, "region[0]"),
    ("region step", lambda g: g.rand(8, region=(slice(0, 8, 2),)), ValueError, "step"),
    ("region too many dims", lambda g: g.rand(8, region=(slice(0, 1), slice(0, 1))), IndexError, "region"),
    ("region not a slice", lambda g: g.rand(8, region=(3,)), TypeError, "region[0]"),
    ("out wrong shape", lambda g: g.rand(3, out=torch.empty(4)), ValueError, "out"),
    ("out wrong dtype", lambda g: g.rand(3, dtype=torch.float64, out=torch.empty(3)), TypeError, "out"),
    ("out not a tensor", lambda g: g.rand(3, out=[0, 0, 0]), TypeError, "out"),
    ("generator wrong type", lambda g: ks.rand(3, generator=torch.Generator()), TypeError, "generator"),
    ("bad device", lambda g: g.rand(3, device="nonsense"), ValueError, "device"),
    ("offset negative", lambda g: setattr(g, "offset", -1), ValueError, "offset"),
    ("offset too big", lambda g: setattr(g, "offset", 2**64), ValueError, "offset"),
    ("advance negative", lambda g: g.advance(-1), ValueError, "blocks"),
    ("advance float", lambda g: g.advance(1.0), TypeError, "blocks"),
    ("spawn negative", lambda g: g.spawn(-1), ValueError, "n must be"),
    ("fold_in float", lambda g: g.fold_in(1.5), TypeError, "data"),
    ("fold_in negative", lambda g: g.fold_in(-1), ValueError, "data"),
    ("fold_in too big", lambda g: g.fold_in(2**64), ValueError, "data"),
    ("seed float", lambda g: g.manual_seed(1.0), TypeError, "seed"),
    ("seed bool", lambda g: g.manual_seed(True), TypeError, "seed"),
    ("seed str", lambda g: g.manual_seed("1"), TypeError, "seed"),
    ("seed None", lambda g: g.manual_seed(None), TypeError, "seed"),
    ("seed too big", lambda g: g.manual_seed(2**64), ValueError, "seed"),
    ("seed too small", lambda g: g.manual_seed(-(2**63) - 1), ValueError, "seed"),
    ("state wrong length", lambda g: g.set_state(torch.zeros(31, dtype=torch.uint8)), ValueError, "32 bytes"),
    ("state wrong dtype", lambda g: g.set_state(torch.zeros(32, dtype=torch.int64)), TypeError, "uint8"),
    ("state wrong tag", lambda g: g.set_state(torch.zeros(32, dtype=torch.uint8)), ValueError, "not a keystream"),
    ("state wrong version", lambda g: g.set_state(_tampered(g, 5, 3)), ValueError, "stream version"),
    ("state wrong algorithm", lambda g: g.set_state(_tampered(g, 4, 9)), ValueError, "algorithm"),
    ("state_dict wrong version", lambda g: g.load_state_dict({**g.state_dict(), "stream_version": 3}), ValueError,
     "stream_version"),
    ("state_dict wrong algorithm", lambda g: g.load_state_dict({**g.state_dict(), "algorithm": "mt19937"}),
     ValueError, "algorithm"),
    ("state_dict missing field", lambda g: g.load_state_dict({"algorithm": "philox4x32-10"}), ValueError, "lacks"),
    ("state_dict bad key", lambda g: g.load_state_dict({**g.state_dict(), "key": [1]}), ValueError, "key"),
    ("state_dict not a dict", lambda g: g.load_state_dict([1, 2]), TypeError, "state_dict"),
    ("state_dict version True", lambda g: g.load_state_dict({**g.state_dict(), "stream_version": True}),
     ValueError, "stream_version"),
    ("state_dict version 1.0", lambda g: g.load_state_dict({**g.state_dict(), "stream_version": 1.0}),
     ValueError, "stream_version"),
    # the result cannot be allocated: more bytes than any address space (nothing is allocated)
    ("size beyond memory", lambda g: g.rand(2**60), MemoryError, "bytes"),
    ("size beyond memory float64", lambda g: g.randn(2**31, 2**31, dtype=torch.float64), MemoryError, "bytes"),
    ("size beyond int64", lambda g: g.rand(2**63), ValueError, "size"),
    ("size beyond int64 product", lambda g: g.rand(2**62, 4), MemoryError, "bytes"),
    ("size given twice", lambda g: g.rand(3, size=(3,)), TypeError, "size"),
    ("size keyword float", lambda g: g.randn(size=(2, 1.5)), TypeError, "size"),
    ("region an int", lambda g: g.rand(4, region=3), TypeError, "region"),
    ("region a string", lambda g: g.rand(4, region="0:2"), TypeError, "region"),
    ("out overlaps itself", lambda g: g.rand(3, out=torch.empty(1).expand(3)), ValueError, "out"),
    ("out leaf requires grad", lambda g: g.rand(3, out=torch.zeros(3, requires_grad=True)), RuntimeError,
     "out requires grad"),
    ("out view of a leaf requiring grad", lambda g: g.randn(2, 3, out=torch.zeros(3, 2, requires_grad=True).t()),
     RuntimeError, "out requires grad"),
    ("out requires grad, tensor parameter",
     lambda g: g.normal(torch.zeros(3), 1.0, out=torch.zeros(3, requires_grad=True)), RuntimeError,
     "out requires grad"),
    ("out integer", lambda g: g.rand(2, out=torch.zeros(2, dtype=torch.int32)), TypeError, "out has dtype"),
    ("complex out of another dtype", lambda g: g.rand(2, dtype=torch.complex128,
                                                     out=torch.zeros(2, dtype=torch.complex64)), TypeError, "out has"),
    ("out float for bits", lambda g: g.bits(2, out=torch.zeros(2)), TypeError, "out has dtype"),
    ("device mps", lambda g: g.rand(3, device="mps"), ValueError, "device"),
    ("Generator device negative", lambda g: ks.Generator(1, device=-1), ValueError, "device"),
    ("Generator device too big", lambda g: ks.Generator(1, device=2**64), ValueError, "device"),
    ("device xpu", lambda g: g.rand(3, device="xpu"), ValueError, "device"),
    ("device a float", lambda g: g.rand(3, device=1.5), ValueError, "device"),
    ("generator on mps", lambda g: g.rand(3), ValueError, "the generator's device"),
    ("mean on meta", lambda g: g.normal(torch.zeros(3, device="meta"), 1.0), ValueError, "mean"),
    ("std on meta", lambda g: g.normal(0.0, torch.ones(3, device="meta")), ValueError, "std"),
    ("low on meta", lambda g: g.uniform(torch.zeros(3, device="meta"), 1.0), ValueError, "low"),
    ("p on meta", lambda g: g.bernoulli(torch.zeros(3, device="meta")), ValueError, "p is on"),
    ("spawn past the stored count", lambda g: g.spawn(1), OverflowError, "n = 1"),
    # the layers built on the draws
    ("init.orthogonal_ generator", lambda g: init.orthogonal_(torch.empty(3, 3), generator=3), TypeError,
     "generator"),
    ("init.sparse_ generator", lambda g: init.sparse_(torch.empty(3, 3), 0.5, generator=3), TypeError, "generator"),
    ("init.uniform_ a string", lambda g: init.uniform_(torch.empty(3), "x", 1, generator=g), TypeError, "a must"),
    ("init.normal_ std None", lambda g: init.normal_(torch.empty(3), 0.0, None, generator=g), TypeError, "std"),
    ("init.trunc_normal_ a None", lambda g: init.trunc_normal_(torch.empty(3), a=None, generator=g), TypeError,
     "a must"),
    ("init.trunc_normal_ std nan", lambda g: init.trunc_normal_(torch.empty(3), std=math.nan, generator=g),
     ValueError, "std"),
    ("init.sparse_ sparsity string", lambda g: init.sparse_(torch.empty(3, 3), "half", generator=g), TypeError,
     "sparsity"),
    ("Permutation.range float", lambda g: ks.Permutation(10, ks.Generator(0)).range(1.5, 3), TypeError, "start"),
    ("Permutation.range None", lambda g: ks.Permutation(10, ks.Generator(0)).range(None, 3), TypeError, "start"),
    ("Permutation.range stop str", lambda g: ks.Permutation(10, ks.Generator(0)).range(0, "3"), TypeError, "stop"),
    ("Permutation generator", lambda g: ks.Permutation(10, torch.Generator()), TypeError, "generator"),
    ("ShuffleSampler float", lambda g: ShuffleSampler(1.5), TypeError, "data_source"),
    ("ShuffleSampler None", lambda g: ShuffleSampler(None), TypeError, "data_source"),
    ("ShuffleSampler bool", lambda g: ShuffleSampler(True), TypeError, "data_source"),
    ("ShuffleSampler 2**64", lambda g: ShuffleSampler(2**64), ValueError, "data_source"),
    ("ShuffleSampler 2**63 - 1 padded", lambda g: ShuffleSampler(2**63 - 1, batch_size=2), ValueError, "data_source"),
    ("ShuffleSampler position past the epoch",
     lambda g: ShuffleSampler(10, 2).load_state_dict({**ShuffleSampler(10, 2).state_dict(), "position": 100}),
     ValueError, "position"),
    ("ShuffleSampler steps_done negative", lambda g: ShuffleSampler(10, 2).state_dict(steps_done=-5), ValueError,
     "steps_done"),
    ("ShuffleSampler steps_done float", lambda g: ShuffleSampler(10, 2).state_dict(steps_done=1.5), TypeError,
     "steps_done"),
    ("estimate complex values", lambda g: mc.estimate(lambda d: d.rand(1)[:, 0].to(torch.complex64), 10, seed=0),
     TypeError, "fn must return real"),
    ("estimate device", lambda g: mc.estimate(lambda d: d.rand(1)[:, 0], 10, seed=0, device="mps"), ValueError,
     "device"),
    # keystream.nn: the keyed dropout's arguments and counters
    ("nn p > 1", lambda g: knn.Dropout(1.5), ValueError, "between 0 and 1"),
    ("nn p < 0", lambda g: knn.Dropout(-0.1), ValueError, "between 0 and 1"),
    ("nn p not a number", lambda g: knn.Dropout("a"), TypeError, "p must be a number"),
    ("nn generator not a Generator", lambda g: knn.Dropout(0.5, generator=3), TypeError, "generator"),
    ("nn site not a Site or str", lambda g: KF.dropout(torch.ones(2, 3), 0.5, site=3), TypeError, "site"),
    ("nn integer input", lambda g: KF.dropout(torch.ones(2, 3, dtype=torch.int64), 0.5, site="s"), TypeError,
     "floating point"),
    ("nn features of the wrong rank", lambda g: KF.dropout(torch.ones(2, 3), 0.5, site="s", features=(2,)),
     ValueError, "features"),
    ("nn shard outside the features",
     lambda g: KF.dropout(torch.ones(2, 3), 0.5, site="s", features=(3,), feature_start=(1,)), ValueError,
     "feature_start"),
    ("nn dropout1d of 1D input", lambda g: KF.dropout1d(torch.ones(2), 0.5, site="s"), RuntimeError, "2D or 3D"),
    ("nn batch start < 0", lambda g: knn.batch(-1).__enter__(), ValueError, "start"),
    ("nn batch float step", lambda g: knn.batch(0, step=1.5).__enter__(), TypeError, "step"),
    ("nn set_step < 0", lambda g: knn.set_step(-3), ValueError, "step"),
    ("dropout1d of a list", lambda g: KF.dropout1d([1.0, 2.0], 0.5, site="v"), TypeError, "input"),
    ("feature_alpha_dropout of None", lambda g: KF.feature_alpha_dropout(None, 0.5, site="v"), TypeError, "input"),
    ("dropout features a string", lambda g: KF.dropout(torch.ones(2, 3), 0.5, site="v", features="ab"), TypeError,
     "features"),
    ("dropout feature_start with None", lambda g: KF.dropout(torch.ones(2, 3), 0.5, site="v", feature_start=(None,)),
     TypeError, "feature_start"),
    ("Dropout name an int", lambda g: knn.Dropout(0.5, name=5), TypeError, "name"),
    ("name_modules of a list", lambda g: knn.name_modules([1, 2]), TypeError, "model"),
    ("sample temperature None", lambda g: ks.sampling.sample(torch.zeros(1, 3), torch.zeros(1, 2, dtype=torch.int64),
                                                             temperature=None), TypeError, "temperature"),
    ("sample temperature a string", lambda g: ks.sampling.sample(
        torch.zeros(1, 3), torch.zeros(1, 2, dtype=torch.int64), temperature="hot"), TypeError, "temperature"),
    ("distribution sample_shape an int", lambda g: ks.distributions.sample(torch.distributions.Normal(0.0, 1.0), 5,
                                                                           generator=g), TypeError, "sample_shape"),
    ("distribution sample_shape negative", lambda g: ks.distributions.sample(
        torch.distributions.Gamma(2.0, 1.0), (-1,), generator=g), ValueError, "sample_shape"),
    ("binomial count nan", lambda g: g.binomial(math.nan, 0.5, (3,)), ValueError, "count"),
    ("dirichlet of no category", lambda g: g.dirichlet(torch.empty(0)), ValueError, "alpha"),
    ("xavier_uniform_ gain inf", lambda g: init.xavier_uniform_(torch.empty(3, 3), gain=math.inf, generator=g),
     ValueError, "gain"),
    ("a torch.Generator", lambda g: ks.rand(3, generator=torch.Generator()), TypeError, "torch.Generator"),
    ("dtype a string", lambda g: g.rand(3, dtype="float32"), TypeError, "torch.float32"),
    ("set_state of a meta tensor", lambda g: g.set_state(torch.empty(32, dtype=torch.uint8, device="meta")),
     ValueError, "meta"),
    ("init_module of a list", lambda g: init.init_module([1], 0), TypeError, "module"),
    # the rest of the public surface (test_every_public_function_is_in_the_table)
    ("fork_rng of ints", lambda g: ks.fork_rng([1]).__enter__(), TypeError, "generators"),
    ("graph_safe of an int", lambda g: ks.graph_safe(5, "cpu"), TypeError, "generator"),
    ("patch_torch seed a string", lambda g: ks.patch_torch("a"), TypeError, "seed"),
    ("torch_random of an int", lambda g: ks.torch_random(5).__enter__(), TypeError, "generator"),
    ("use_engine unknown", lambda g: ks.use_engine("nope").__enter__(), ValueError, "engine"),
    ("cauchy_ sigma < 0", lambda g: ks.cauchy_(torch.empty(3), sigma=-1.0, generator=g), ValueError, "sigma"),
    ("exponential_ lambd 0", lambda g: ks.exponential_(torch.empty(3), 0.0, generator=g), ValueError, "lambd"),
    ("log_normal_ std < 0", lambda g: ks.log_normal_(torch.empty(3), std=-1.0, generator=g), ValueError, "std"),
    ("randn_like of a string", lambda g: ks.randn_like("x", generator=g), TypeError, "input"),
    ("DataLoader batch_size < 0", lambda g: ks.data.DataLoader([1, 2], batch_size=-1), ValueError, "batch_size"),
    ("PerSampleDataset seed a string", lambda g: ks.data.PerSampleDataset([1], seed="a"), TypeError, "seed"),
    ("RandomSampler replacement a string", lambda g: ks.data.RandomSampler([1], replacement="x"), TypeError,
     "replacement"),
    ("SubsetRandomSampler generator an int", lambda g: list(ks.data.SubsetRandomSampler([1, 2], generator=5)),
     TypeError, "generator"),
    ("WeightedRandomSampler negative weight", lambda g: list(ks.data.WeightedRandomSampler([-1.0, 1.0], 2,
                                                                                           generator=g)),
     ValueError, "weights"),
    ("random_split lengths", lambda g: ks.data.random_split([1, 2, 3], [5, 5], generator=g), ValueError,
     "lengths"),
    ("epoch_generator seed a string", lambda g: ks.data.epoch_generator("a", 1), TypeError, "seed"),
    ("sample_generator seed a string", lambda g: ks.data.sample_generator("a", 0, 0), TypeError, "seed"),
    ("seeded_globals of an int", lambda g: ks.data.seeded_globals(5).__enter__(), TypeError, "generator"),
    ("kaiming_normal_ mode", lambda g: init.kaiming_normal_(torch.empty(3, 3), mode="x", generator=g), ValueError,
     "mode"),
    ("xavier_normal_ gain nan", lambda g: init.xavier_normal_(torch.empty(3, 3), gain=math.nan, generator=g),
     ValueError, "gain"),
    ("materialize of a list", lambda g: init.materialize([1], 0), TypeError, "module"),
    ("AlphaDropout p 2", lambda g: knn.AlphaDropout(2.0), ValueError, "probability"),
    ("Dropout1d p < 0", lambda g: knn.Dropout1d(-1.0), ValueError, "probability"),
    ("Dropout2d p < 0", lambda g: knn.Dropout2d(-1.0), ValueError, "probability"),
    ("Dropout3d p 2", lambda g: knn.Dropout3d(2.0), ValueError, "probability"),
    ("FeatureAlphaDropout p 2", lambda g: knn.FeatureAlphaDropout(2.0), ValueError, "probability"),
    ("Site name an int", lambda g: knn.Site(5), TypeError, "name"),
    ("alpha_dropout p 2", lambda g: KF.alpha_dropout(torch.ones(2, 2), 2.0, site="v"), ValueError, "probability"),
    ("dropout2d of 2 dims", lambda g: KF.dropout2d(torch.ones(2, 2), 0.5, site="v"), RuntimeError, "dropout2d"),
    ("dropout3d of 2 dims", lambda g: KF.dropout3d(torch.ones(2, 2), 0.5, site="v"), RuntimeError, "dropout3d"),
    ("request_keys seed a string", lambda g: ks.sampling.request_keys("a", 0, 0), TypeError, "seed"),
    ("sample_probs negative", lambda g: ks.sampling.sample_probs(torch.tensor([[-1.0, 2.0]]),
                                                                 torch.zeros(1, 2, dtype=torch.int64)),
     ValueError, "probs"),
    ("rsample of Bernoulli", lambda g: ks.distributions.rsample(torch.distributions.Bernoulli(0.5), (2,),
                                                                generator=g), NotImplementedError, "Bernoulli"),
    ("montecarlo exp of a string", lambda g: mc.exp("a"), TypeError, "x"),
    ("montecarlo log of a string", lambda g: mc.log("a"), TypeError, "x"),
    ("shared_generator seed a string", lambda g: ks.distributed.shared_generator("a"), TypeError, "seed"),
    ("rank_generator without a process group", lambda g: ks.distributed.rank_generator(g), RuntimeError,
     "init_process_group"),
    ("check_shared without a process group", lambda g: ks.distributed.check_shared(g), RuntimeError,
     "init_process_group"),
    # failures after the checks (NOTE [ one call, one transaction ]): the state goes back
    ("init uniform_ of an expanded tensor", lambda g: init.uniform_(torch.empty(1, 3).expand(4, 3), generator=g),
     RuntimeError, "same memory"),
    ("init orthogonal_ of an expanded tensor", lambda g: init.orthogonal_(torch.empty(1, 3).expand(4, 3), generator=g),
     RuntimeError, "same memory"),
    ("init kaiming_uniform_ of an inference tensor", lambda g: init.kaiming_uniform_(_INFERENCE, generator=g),
     RuntimeError, "inference"),
    ("randint_like an integer tensor requiring grad",
     lambda g: ks.randint_like(torch.zeros(3, dtype=torch.int64), 10, requires_grad=True, generator=g),
     RuntimeError, "requires_grad"),
    ("torch_generator on a bad device", lambda g: g.torch_generator("nope"), RuntimeError, "nope"),
    ("NegativeBinomial whose rate overflows", lambda g: ks.distributions.sample(torch.distributions.NegativeBinomial(
        5.0, logits=torch.tensor(800.0, dtype=torch.float64)), (3,), generator=g), ValueError, "rate"),
    ("Categorical with no sample", lambda g: ks.distributions.sample(
        torch.distributions.Categorical(torch.tensor([0.5, 0.5])), (0,), generator=g), RuntimeError, "sample_shape"),
    ("student_t at the end of the counter space", lambda g: _near_end(g).student_t(3.0, (10,)), OverflowError,
     "2\\*\\*64"),
    ("dropout Site and another generator", lambda g: KF.dropout(torch.ones(2, 2), 0.5, site=knn.Site("v", generator=g),
                                                                  generator=ks.Generator(9)), ValueError, "generator"),
    # keystream.numpy (its Generator draws from g)
    ("numpy size float", lambda g: ksnp.Generator(g).random(2.5), TypeError, "size"),
    ("numpy dtype", lambda g: ksnp.Generator(g).random(3, dtype=np.complex64), TypeError, "dtype"),
    ("numpy scale 0", lambda g: ksnp.Generator(g).exponential(0.0, 3), ValueError, "scale"),
    ("numpy scale array", lambda g: ksnp.Generator(g).exponential([1.0], 3), TypeError, "scale"),
    ("numpy integers float", lambda g: ksnp.Generator(g).integers(2.5), TypeError, "low"),
    ("numpy integers empty", lambda g: ksnp.Generator(g).integers(3, 3), ValueError, "low must be < high"),
    ("numpy out not ndarray", lambda g: ksnp.Generator(g).random(3, out=[0.0] * 3), TypeError, "out"),
    ("numpy out read-only", lambda g: ksnp.Generator(g).random(3, out=_readonly(3)), ValueError, "read-only"),
    ("numpy out wrong shape for counts", lambda g: ksnp.Generator(g).poisson(3.0, 5, out=np.empty(4, dtype=np.int64)),
     ValueError, "shape"),
    ("numpy p not summing to 1", lambda g: ksnp.Generator(g).choice(3, p=[0.5, 0.2, 0.2]), ValueError, "sum to 1"),
    ("numpy p negative", lambda g: ksnp.Generator(g).multinomial(3, [1.5, -0.5]), ValueError, "pvals"),
    ("numpy choice too many", lambda g: ksnp.Generator(g).choice(3, 5, replace=False), ValueError,
     "without replacement"),
    ("numpy dirichlet 2-D", lambda g: ksnp.Generator(g).dirichlet([[1.0]]), ValueError, "alpha"),
    ("numpy gamma shape string", lambda g: ksnp.Generator(g).gamma("a"), TypeError, "shape"),
    ("numpy scale < 0", lambda g: ksnp.Generator(g).normal(0.0, -1.0, 3), ValueError, "scale"),
    ("numpy scale array < 0", lambda g: ksnp.Generator(g).normal(0.0, [1.0, -1.0]), ValueError, "scale"),
    ("numpy gamma shape 0", lambda g: ksnp.Generator(g).gamma(0.0, 1.0, 3), ValueError, "shape"),
    ("numpy gamma scale nan", lambda g: ksnp.Generator(g).gamma(1.0, math.nan, 3), ValueError, "scale"),
    ("numpy chisquare df", lambda g: ksnp.Generator(g).chisquare(-1.0, 3), ValueError, "df"),
    ("numpy beta b", lambda g: ksnp.Generator(g).beta(1.0, [1.0, 0.0]), ValueError, "b"),
    ("numpy poisson lam", lambda g: ksnp.Generator(g).poisson(-1.0, 3), ValueError, "lam"),
    ("numpy binomial n", lambda g: ksnp.Generator(g).binomial(2.5, 0.5, 3), ValueError, "n"),
    ("numpy binomial p", lambda g: ksnp.Generator(g).binomial(3, 1.5, 3), ValueError, "p"),
    ("numpy standard_t df", lambda g: ksnp.Generator(g).standard_t(0.0, 3), ValueError, "df"),
    ("numpy bits float dtype", lambda g: ksnp.Generator(g).bits(3, dtype=np.float32), TypeError, "dtype"),
    ("numpy permutation 0-d", lambda g: ksnp.Generator(g).permutation(np.float64(1.5)), ValueError, "x"),
    ("numpy shuffle list", lambda g: ksnp.Generator(g).shuffle([1, 2]), TypeError, "x"),
    ("numpy seed", lambda g: ksnp.Generator(2.5), TypeError, "seed"),
    ("numpy bit generator source", lambda g: ksnp.bit_generator("x"), TypeError, "source"),
    ("numpy bit generator key", lambda g: ksnp.KeystreamBitGenerator(key=(1 << 32, 0)), ValueError, "key"),
    ("numpy default_rng seed", lambda g: ksnp.default_rng([1]), TypeError, "seed"),
    ("numpy Permutation n", lambda g: ksnp.Permutation(-1, g), ValueError, "n"),
    ("numpy Permutation float index", lambda g: ksnp.Permutation(5, ks.Generator(1))[np.array([0.5])], TypeError,
     "index"),
    # keystream.dask (its Generator draws from g; dask is a test extra)
    ("dask no size", lambda g: _dask().Generator(g).random(chunks=3), TypeError, "size"),
    ("dask region", lambda g: _dask().Generator(g).random(5, region=slice(0, 2)), TypeError, "region"),
    ("dask array parameter", lambda g: _dask().Generator(g).normal([0.0, 1.0], 1.0, 2), TypeError, "loc"),
    ("dask scale 0", lambda g: _dask().Generator(g).gamma(1.0, 0.0, 5, chunks=2), ValueError, "scale"),
    ("dask bad chunks", lambda g: _dask().Generator(g).random(5, chunks="x"), ValueError, "chunks"),
    ("dask unknown argument", lambda g: _dask().Generator(g).random(5, sizes=3), TypeError, "sizes"),
    ("dask default_rng seed", lambda g: _dask().default_rng(1.5), TypeError, "seed"),
    ("dask estimate tasks", lambda g: _dask().estimate(lambda d: d.rand(), 10, seed=1, tasks=0), ValueError, "tasks"),
    ("dask estimate n_samples", lambda g: _dask().estimate(lambda d: d.rand(), -1, seed=1), ValueError, "n_samples"),
    # keystream.jax (functions of a key: g is not involved; jax is a test extra)
    ("jax shape", lambda g: _jax().rand(1, 2.5), TypeError, "shape"),
    ("jax dtype", lambda g: _jax().rand(1, 3, "complex64"), TypeError, "dtype"),
    ("jax float64 without x64", lambda g: _jax().randn(1, 3, "float64"), ValueError, "jax_enable_x64"),
    ("jax key", lambda g: _jax().randn("x", 3), TypeError, "key"),
    ("jax key words", lambda g: _jax().randn(np.zeros(3, np.uint32), 3), TypeError, "key"),
    ("jax offset", lambda g: _jax().bits(1, 3, offset=-1), ValueError, "offset"),
    ("jax offset float", lambda g: _jax().bits(1, 3, offset=1.5), TypeError, "offset"),
    ("jax uniform low > high", lambda g: _jax().uniform(1, 3, low=2.0, high=1.0), ValueError, "low <= high"),
    ("jax normal std", lambda g: _jax().normal(1, 3, std=-1.0), ValueError, "std"),
    ("jax randint", lambda g: _jax().randint(1, 3, 5, 5), ValueError, "low < high"),
    ("jax bernoulli p", lambda g: _jax().bernoulli(1, 1.5, 3), ValueError, "p must be"),
    ("jax exponential lambd", lambda g: _jax().exponential(1, 3, lambd=0.0), ValueError, "lambd"),
    ("jax cauchy sigma", lambda g: _jax().cauchy(1, 3, sigma=0.0), ValueError, "sigma"),
    ("jax laplace scale", lambda g: _jax().laplace(1, 3, scale=0.0), ValueError, "scale"),
    ("jax gumbel scale", lambda g: _jax().gumbel(1, 3, scale=-1.0), ValueError, "scale"),
    ("jax permutation of a float", lambda g: _jax().permutation(1, 2.5), TypeError, "x must be"),
    ("jax log_normal std", lambda g: _jax().log_normal(1, 3, std=0.0), ValueError, "std"),
    ("jax geometric p", lambda g: _jax().geometric(1, 1.5, 3), ValueError, "p"),
    ("jax trunc_normal bounds", lambda g: _jax().trunc_normal(1, 3, 0.0, 1.0, 2.0, 1.0), ValueError, "a < b"),
    ("jax fold_in data", lambda g: _jax().fold_in(_jax().key(1), 2.5), TypeError, "data"),
    ("jax spawn n", lambda g: _jax().spawn(_jax().key(1), -1), ValueError, "n must"),
    ("jax key_of", lambda g: _jax().key_of(5), TypeError, "generator"),
    ("jax key seed", lambda g: _jax().key("a"), TypeError, "seed"),
    ("jax key seed range", lambda g: _jax().key(2**64), ValueError, "seed"),
    ("jax init seed without name", lambda g: _jax_init().uniform(seed=1), TypeError, "name"),
    ("jax init layout", lambda g: _jax_init().normal(layout="tf"), ValueError, "layout"),
    ("jax init kaiming mode", lambda g: _jax_init().kaiming_normal(mode="x", seed=1, name="w")(None, (2, 3)),
     ValueError, "mode"),
    ("jax init xavier 1-D", lambda g: _jax_init().xavier_uniform(seed=1, name="w")(None, (3,)), ValueError,
     "dimensions"),
    ("jax init xavier gain", lambda g: _jax_init().xavier_normal(gain="x", seed=1, name="w")(None, (2, 2)),
     TypeError, "gain"),
    ("jax init trunc_normal bounds", lambda g: _jax_init().trunc_normal(a=1.0, b=0.0, seed=1, name="w")(None, (2,)),
     ValueError, "a < b"),
    ("jax init kaiming_uniform nonlinearity",
     lambda g: _jax_init().kaiming_uniform(nonlinearity="x", seed=1, name="w")(None, (2, 2)), ValueError, "x"),
    ("jax dropout rate", lambda g: _jax_nn().dropout(np.ones((2, 2), np.float32), 1.5, 1, name="d", step=0),
     ValueError, "rate"),
    ("jax dropout features", lambda g: _jax_nn().dropout(np.ones((2, 4), np.float32), 0.5, 1, name="d", step=0,
                                                         features=(3,)), ValueError, "features"),
    ("jax dropout int", lambda g: _jax_nn().dropout(np.ones((2, 2), np.int32), 0.5, 1, name="d", step=0),
     TypeError, "float"),
    ("jax mask_key name", lambda g: _jax_nn().mask_key(1, 5, 0), TypeError, "name"),
]

# Devices this torch may have: the rows that need them missing are skipped where they exist.
_NEEDS_NO = {"device mps": "mps", "generator on mps": "mps", "device xpu": "xpu"}


with torch.inference_mode():
    _INFERENCE = torch.empty(3, 4)


def _near_end(g: ks.Generator) -> ks.Generator:
    """``g`` itself, 60 blocks before 2^64 (set up by _SETUP, so that the test's state is this)."""
    return g


def _used() -> ks.Generator:
    """A generator with a non-zero offset and spawn count."""
    g = ks.Generator(2024)
    g.rand(5)
    g.spawn(1)
    return g


def _at_spawn_limit(g: ks.Generator) -> ks.Generator:
    g.load_state_dict({**g.state_dict(), "spawn_count": 2**64 - 1})
    return g


#: Rows whose generator is not the plain one: name -> the generator to use.
def _offset(g: ks.Generator, offset: int) -> ks.Generator:
    g.offset = offset
    return g


_SETUP = {
    "student_t at the end of the counter space": lambda: _offset(ks.Generator(2024), 2**64 - 60),
    "generator on mps": lambda: ks.Generator(2024, device="mps"),
    "spawn past the stored count": lambda: _at_spawn_limit(ks.Generator(2024)),
}


def _has(device: str) -> bool:
    try:
        torch.empty(0, device=device)
    except Exception:  # noqa: BLE001
        return False
    return True


def _dask():
    return pytest.importorskip("keystream.dask")


def _jax():
    return pytest.importorskip("keystream.jax")


def _jax_init():
    _jax()
    import keystream.jax.init as jinit

    return jinit


def _jax_nn():
    _jax()
    import keystream.jax.nn as jnn

    return jnn


def _readonly(n: int) -> np.ndarray:
    a = np.zeros(n)
    a.setflags(write=False)
    return a


def _tampered(g: ks.Generator, index: int, value: int) -> torch.Tensor:
    s = g.get_state().clone()
    s[index] = value
    return s


@pytest.mark.parametrize("name,call,exc,fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_and_keeps_state(name, call, exc, fragment):
    if name in _NEEDS_NO and _has(_NEEDS_NO[name]):
        pytest.skip(f"this machine has {_NEEDS_NO[name]}")
    g = _SETUP.get(name, _used)()
    before = g.get_state()
    default_before = ks.default_generator.get_state()
    step = knn.get_step()
    with pytest.raises(exc, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        call(g)
    assert torch.equal(g.get_state(), before)  # byte-identical
    assert knn.get_step() == step
    assert torch.equal(ks.default_generator.get_state(), default_before)


# ------------------------------------------------------- failures after the checks
def test_a_failing_engine_gives_the_blocks_back(monkeypatch):
    from keystream._engines import engine_for

    g = ks.Generator(3)
    g.rand(7)
    before = g.get_state()

    def broken(out, spec):
        raise RuntimeError("engine failure")

    monkeypatch.setattr(engine_for(torch.device("cpu")), "fill", broken)
    monkeypatch.setattr(ks._draws, "_native_fill", lambda *a: broken(None, None))  # NOTE [ small draws ]
    monkeypatch.setattr(ks._torch._memo, "_serve", lambda *a: None)  # NOTE [ memoised small draws ]
    # (g.rand(10) at the default dtype is the C module's small draw, and a remembered draw the
    # C module's too: their fills cannot fail)
    for call in (lambda: g.rand(10, dtype=torch.float32), lambda: g.rand(1 << 15),
                 lambda: g.randn(4, 5, out=torch.empty(5, 4).t()),
                 lambda: g.normal(torch.zeros(3), 1.0), lambda: g.randperm(9)):
        with pytest.raises(RuntimeError, match="engine failure"):
            call()
        assert torch.equal(g.get_state(), before)


def test_a_failing_copy_into_out_gives_the_blocks_back(monkeypatch):
    g = ks.Generator(3)
    before = g.get_state()
    out = torch.empty(5, 4).t()

    class Failing(torch.Tensor):
        pass

    def copy_(*args, **kwargs):
        raise RuntimeError("copy failure")

    bad = out.as_subclass(Failing)
    monkeypatch.setattr(Failing, "copy_", copy_)
    with pytest.raises(RuntimeError, match="copy failure"):
        g.rand(4, 5, out=bad)
    assert torch.equal(g.get_state(), before)


def test_blocks_given_back_only_when_nobody_drew_since():
    g = ks.Generator(1)
    key, start = g._reserve(3)
    g._release(key, start, 3)
    assert g.offset == 0
    key, start = g._reserve(3)
    g.rand(1)  # another draw came after: the 3 blocks stay consumed (never handed out twice)
    g._release(key, start, 3)
    assert g.offset == 4


def test_draw_racing_set_state_pairs_key_and_offset_of_one_state():
    """A draw that races set_state uses the whole old or the whole new state."""
    import threading

    a = ks.Generator(11)
    b = ks.Generator(12).advance(2**40)
    states = (a.get_state(), b.get_state())
    draws = 3000
    # what each state gives for its first `draws` blocks (a draw takes one block, and
    # however the threads interleave, no draw is further than `draws` blocks into a state)
    expect = set()
    for s in states:
        expect.update(tuple(r) for r in ks.Generator().set_state(s).bits(draws, 4).tolist())
    g = ks.Generator().set_state(states[0])
    stop = threading.Event()

    def flip():
        i = 0
        while not stop.is_set():
            g.set_state(states[i % 2])
            i += 1

    t = threading.Thread(target=flip)
    t.start()
    try:
        seen = [tuple(g.bits(4).tolist()) for _ in range(draws)]
    finally:
        stop.set()
        t.join()
    assert set(seen) <= expect


def test_concurrent_draws_never_share_a_block():
    import threading

    g = ks.Generator(5)
    results: list[list[tuple[int, ...]]] = [[] for _ in range(4)]

    def work(i):
        for _ in range(300):
            results[i].append(tuple(g.bits(4).tolist()))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    drawn = [r for rs in results for r in rs]
    assert g.offset == 1200
    assert sorted(drawn) == sorted(tuple(r) for r in ks.Generator(5).bits(1200, 4).tolist())


#: Public callables without a row, and why (a new public function must get a row or a reason).
_NO_BAD_INPUT = {
    "KeystreamWarning": "a warning class", "available_engines": "no arguments", "get_state": "no arguments",
    "initial_seed": "no arguments", "seed": "no arguments", "unpatch_torch": "no arguments",
    "get_step": "no arguments", "supported": "any object: answers True or False",
    "calculate_gain": "torch's own function, re-exported", "constant_": "torch's own, draws nothing",
    "dirac_": "torch's own, draws nothing", "eye_": "torch's own, draws nothing", "ones_": "torch's own",
    "zeros_": "torch's own", "parameter_generator": "any int seed and any fold_in name are valid",
    "Draws": "made by estimate, not by users", "Estimate": "a result type", "InBall": "an example integrand",
    "control_variate": "a pure function of the caller's tensors (torch's errors)",
    "augment_words": "keyed by integers: checked by the augmentation tests", "color_jitter": "as augment_words",
    "crop_boxes": "as augment_words", "cutmix_boxes": "as augment_words", "flip": "as augment_words",
    "mixup_lambda": "as augment_words",
}


def test_every_public_function_is_in_the_table():
    """Every callable of every public module's __all__ is called by a row of BAD (its name
    appears in a row's code) or has a reason in _NO_BAD_INPUT."""
    import importlib
    import types

    called: set[str] = set()

    def walk(code: types.CodeType) -> None:
        called.update(code.co_names)
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                walk(const)

    for row in BAD:
        walk(row[1].__code__)
    missing = []
    for module in ("keystream", "keystream.data", "keystream.init", "keystream.nn", "keystream.nn.functional",
                   "keystream.sampling", "keystream.distributions", "keystream.montecarlo", "keystream.distributed",
                   "keystream.numpy", "keystream.dask", "keystream.jax", "keystream.jax.init", "keystream.jax.nn"):
        try:
            mod = importlib.import_module(module)
        except ImportError:  # (an optional front end whose library is not installed)
            continue
        for name in mod.__all__:
            if callable(getattr(mod, name)) and name not in called and name not in _NO_BAD_INPUT:
                missing.append(f"{module}.{name}")
    assert not missing, f"public functions without a row in BAD (or a reason in _NO_BAD_INPUT): {missing}"
