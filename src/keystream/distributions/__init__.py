"""torch.distributions sampled with keystream's numbers.

``keystream.distributions.sample(torch.distributions.Normal(mu, sigma), (n,), generator=g)``
is ``Normal(mu, sigma).sample((n,))`` drawn from ``g``: the same shape, dtype, device and
distribution, the same numbers on every device.  ``rsample`` adds torch's gradients.
"""
from ._sample import rsample, sample, supported

__all__ = ["rsample", "sample", "supported"]
