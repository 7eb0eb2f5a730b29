"""A batch's participant co-signs its settlement (`POST /swarm/v1/cosign`).

The committer sends the batch's signed round results and the equivocation
evidence it settles. This node signs the settlement only if it can rebuild it:

- the request is signed by a registered node and fresh (signing the same
  settlement twice is harmless, so a retried request is served again);
- it names this node's chain and contract;
- every result is a `result` message signed by the committer;
- their digests, in order, make the root, and that root is the one the committer
  committed on chain for the batch;
- every evidence pair proves equivocation (`reputation.evidence`);
- the settlement rebuilt by the same rule (`reputation.batch_rule`) names this
  node among the participants.

It then signs the EIP-712 settlement (`contracts.settlement`) and replies with a
signed `settle_signature`. What it cannot know (that a round it took no part in
happened as its result says) is the audit's to check against the log.
"""

from typing import Any

from pydantic import ValidationError

from contracts import merkle
from contracts.settlement import sign
from node.context import NodeContext
from node.errors import BadRequest
from node.serve.admission import accept_message, chain_link, same_chain
from reputation.batch_rule import settle_batch
from reputation.envelope import digest, recover_sender, sign_envelope
from reputation.evidence import check_equivocation
from reputation.messages import SettleRequestPayload, SettleSignaturePayload, payload_of
from reputation.result import SwarmResult

__all__ = ["cosign"]


async def cosign(ctx: NodeContext, message: Any) -> dict[str, Any]:
    link = chain_link(ctx)
    accept_message(ctx, message, "settle_request", once=False)
    request = payload_of(SettleRequestPayload, message)
    committer = str(message["sender"])
    same_chain(link, request.chain_id, request.contract)
    results = []
    for signed in request.results:
        if recover_sender(signed).lower() != committer.lower() or signed.get("type") != "result":
            raise BadRequest("every result must be a `result` signed by the committer")
        try:
            results.append((digest(signed), SwarmResult.model_validate(signed["payload"])))
        except ValidationError as exc:
            raise BadRequest(f"a result does not parse: {exc.errors()[0]['msg']}") from exc
    root = merkle.root([d for d, _ in results])
    if "0x" + root.hex() != request.root:
        raise BadRequest("the results do not make the batch's root", code="wrong_root")
    if await link.chain.root(committer, request.batch) != root:
        raise BadRequest("the committer has not committed this root", code="root_not_committed")
    evidence = []
    for pair in request.evidence:
        if len(pair) != 2:
            raise BadRequest("evidence is a pair of messages")
        evidence.append((check_equivocation(pair[0], pair[1]), pair[0], pair[1]))
    settlement = settle_batch(committer, request.batch, root, results, evidence)
    if ctx.address not in settlement.participants:
        raise BadRequest("this node took no part in the batch", code="not_a_participant")
    signature = sign(ctx.account, settlement, link.chain.chain_id, link.chain.address)
    payload = SettleSignaturePayload(
        batch=request.batch, root=request.root, signature="0x" + signature.hex()
    )
    reply = sign_envelope(ctx.account, "settle_signature", None, payload.model_dump())
    ctx.journal.append(reply)
    return reply
