"""keystream's warning class, in a leaf module: engines warn without importing the package."""
from __future__ import annotations

__all__ = ["KeystreamWarning"]


class KeystreamWarning(UserWarning):
    """Warnings issued by keystream (for example: a fast engine could not be loaded)."""
