"""torch's initialisers that draw nothing, re-exported so that ``import keystream.init as
init`` can stand in for ``torch.nn.init`` (their results involve no random numbers)."""
from torch.nn.init import constant_, dirac_, eye_, ones_, zeros_

__all__ = ["constant_", "dirac_", "eye_", "ones_", "zeros_"]
