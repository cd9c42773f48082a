"""Keyed sampling for inference: the same token for a request, whatever batch it is in.

``sample(logits, keys, temperature=, top_k=, top_p=, min_p=)`` draws one token per row from
the row's own key (:func:`request_keys` builds them from request seeds, sample numbers and
decoding steps), so a request's completion does not depend on the other requests it is
batched with, its position, padding rows, the engine or the device.  The algorithm is
NOTE [ Keyed sampling ] in ``_sample.py`` and docs/spec.md section 8; the C engine and the
Triton engine have kernels for it (``Engine.sample_tokens``), other devices run the torch
definition.
"""
from ._sample import request_keys, sample, sample_probs

__all__ = ["request_keys", "sample", "sample_probs"]
