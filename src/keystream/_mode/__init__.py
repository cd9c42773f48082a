"""torch's own randomness answered by keystream: ``torch_random`` and ``patch_torch``
(``_torch_mode``), and torch's dropout functions under them (``_dropout``)."""
