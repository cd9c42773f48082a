"""The stream core: what every bit of the stream is, for every engine and front end.

The constants as bit patterns (``_constants``), the block function (``_philox``), keys and
their derivation (``_keys``), the table of draw kinds (``_kinds``), what a draw is
(``_spec``), the stream's own math in numpy and torch forms (``_math``), and the warning class
(``_warnings``).  Nothing here imports an engine or a front end (docs/architecture.md).
"""
