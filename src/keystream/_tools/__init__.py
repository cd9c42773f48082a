"""The command line (``_cli``: ``keystream selftest``, ``mc``, ``stream``), the self-test
(``_selftest``), the stream writer (``_stream``) and the conformance cases the self-test and
the tests share (``_conformance``)."""
