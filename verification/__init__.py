"""Checks on generated outputs: LSH signatures and the copy index, re-execution and
the teacher-forced check, all behind one `Verifier` interface (`verification.base`).

Imports nothing from `node`.
"""

from verification.base import Claim, VerificationResult, Verifier, majority
from verification.grouping import group_identical, group_near, normalize_answer

__all__ = [
    "Claim",
    "VerificationResult",
    "Verifier",
    "group_identical",
    "group_near",
    "majority",
    "normalize_answer",
]
