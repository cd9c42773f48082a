"""The stream's own math, in one place: engines, ``data``, ``init``, ``montecarlo`` and
``Permutation`` import it from here, never from an engine.

* ``numpy_forms``: log, sin/cos and bit length on numpy arrays (the reference forms);
* ``torch_forms``: the same, and the correctly rounded square root, in torch ops on any
  device (the portable forms);
* ``feistel``: randperm's and ``Permutation``'s round keys and domain width;
* ``exact``: the exact accumulators' limb count.

One name per function in every form (the Triton kernels' ``neg_log_f64`` and
``sincos_f32`` too), with the same arguments in each form's representation: a 32-bit word
is a uint32 array (numpy) or an int64 tensor holding it (torch); a 64-bit word is a uint64
array (numpy, Triton) or, since torch has no uint64 arithmetic, a ``(hi, lo)`` pair of such
int64 tensors, in that order everywhere (``neg_log_f64(xh, xl)``, ``sincos_f64(xh, xl)``).

Both forms give the same bits (tests/test_engines.py compares every engine with the
reference); the goldens pin what the engines share.
"""
