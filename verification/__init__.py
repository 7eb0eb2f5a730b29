"""Checks on generated outputs. For now: grouping of identical answers within a round.

Imports nothing from `node`.
"""

from verification.grouping import group_identical, normalize_answer

__all__ = ["group_identical", "normalize_answer"]
