"""The project's one exception root, in a module of its own.

Every package (`ranking`, `verification`, `reputation`, `contracts`, `node`)
derives its error tree from `SwarmError`, so a caller can catch everything the
project raises on purpose with one class, and no package has to import another
only for the root. Subclasses also inherit a built-in where it fits
(`InvalidSignature(EnvelopeError, ValueError)`), as web3.py does.

This is the only top-level module besides the packages of the project card:
the root must sit below all of them, and each package may import it.
"""

__all__ = ["SwarmError"]


class SwarmError(Exception):
    """Root of every error this project raises on purpose."""
