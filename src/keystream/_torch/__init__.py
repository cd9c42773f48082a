"""The torch front end: the Generator and the public draws on torch tensors.

Devices (``_devices``), torch's opaque objects and the draw operator for torch.compile
(``_opaque``, ``_ops``), the Generator (``_generator``) and its graph-safe state
(``_graphsafe``), the public draws (``_draws``; small calls: ``_memo``), the draws made of
draws (``_composite``, ``_counts``), torch's in-place forms (``_inplace``) and
:class:`~keystream.Permutation` (``_permutation``).  The package ``keystream`` exports them.
"""
