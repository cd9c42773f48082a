"""The stream's own math, in one place: engines, ``data``, ``init``, ``montecarlo`` and
``Permutation`` import it from here, never from an engine.

* ``numpy_forms``: log, sin/cos and bit length on numpy arrays (the reference forms);
* ``torch_forms``: the same, and the correctly rounded square root, in torch ops on any
  device (the portable forms);
* ``feistel``: randperm's and ``Permutation``'s round keys and domain width;
* ``exact``: the exact accumulators' limb count.

Both forms give the same bits (tests/test_engines.py compares every engine with the
reference); the goldens pin what the engines share.
"""
