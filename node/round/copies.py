"""Phase 3, copy check: flag copies and replays, group (near-)identical answers.

Every admitted answer is read against this node's LSH index of recent answers
(`verification.index`): a near-copy of another node's earlier answer, or a
replay of an answer to another prompt, is flagged with the evidence (flags are
evidence, not exclusion: honest answers collide about 1% of the time; a flagged
candidate gets no benefit of the doubt in phase 6). The round's answers then
join the index. Identical and near-identical answers
(`verification.grouping.group_near`) form one candidate, in first-seen order;
signatures were checked on admission, so none is re-hashed here.
"""

from node.context import NodeContext
from node.round.values import Answer, Candidate, Candidates
from reputation.draws import text_digest
from reputation.result import CopyFlag
from verification.copies import CopyVerifier, indexed
from verification.grouping import group_near

__all__ = ["check_copies"]


def check_copies(ctx: NodeContext, answers: list[Answer]) -> Candidates:
    checker = CopyVerifier(ctx.copies)
    items = [indexed(a.claim) for a in answers]
    flags = []
    for item in items:
        result = checker.check(item)
        if not result.passed:
            flags.append(
                CopyFlag.model_validate(
                    {"node": item.node, "answer": item.key, "similarity": result.score}
                    | result.evidence
                )
            )
    for item in items:
        ctx.copies.add(item)
    groups = group_near(
        [a.payload.text for a in answers],
        [item.signature for item in items],
        [item.shingles for item in items],
    )
    candidates = [
        Candidate(
            index=index,
            answer=answers[group[0]],
            authors=[answers[g].node for g in group],
            answers=[answers[g].digest for g in group],
            digest=text_digest(answers[group[0]].payload.text),
        )
        for index, group in enumerate(groups)
    ]
    return Candidates(candidates, flags)
