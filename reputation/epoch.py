"""What a node rebuilds from its log when it starts, which an auditor rebuilds at the
same point of the log.

At start a node fits its topic clusters (`reputation.topics`) on the prompts of
the latest `PROMPTS` announcements in its log, once there are `MIN_PROMPTS` of
them, and rebuilds its judges' records (`reputation.records.JudgeBook`) from the
latest `RECORD_ROUNDS` results it signed, in log order, each past round's prompt
assigned to the new clusters (a client's category is kept). Then it appends a
signed `epoch` message (`EpochPayload`) that names the numbers it used, so the
point of the log where its memory was rebuilt is in the log itself.

From there the records change only as the node settles rounds: it adds a round's
judges when it queues the round's signed result, and it takes a round's records
when it announces the round (`node.round.announce`), so the records a round was
ranked with are those of the epoch before it plus the results logged between the
epoch and the round's announcement. An auditor replays exactly that
(`reputation.audit`): `rebuild(log, owner, before=<epoch's seq>)` at each epoch,
then `JudgeBook.add` for each result, and re-infers each round's topic with
`infer_topic` on the clusters of the epoch before it.
"""

from collections.abc import Sequence
from typing import Any

from pydantic import Field, StrictInt

from reputation.messages import Payload
from reputation.records import RECORD_ROUNDS, JudgeBook
from reputation.result import topic_key
from reputation.topics import TopicModel

__all__ = [
    "MIN_PROMPTS",
    "PROMPTS",
    "EpochPayload",
    "fit_topics",
    "infer_topic",
    "prompt_text",
    "rebuild",
]

MIN_PROMPTS = 64
PROMPTS = 2000


class EpochPayload(Payload):
    """A node's signed note that it rebuilt its memory from its log here."""

    prompts: StrictInt = Field(ge=0)
    """How many latest announcements its topic clusters were fitted on."""
    min_prompts: StrictInt = Field(ge=1)
    """Fewer announcements than this: no clusters."""
    records: StrictInt = Field(ge=1)
    """How many latest results its judges' records hold."""
    seed: StrictInt = 0
    """The clusters' seed."""


def prompt_text(messages: Sequence[dict[str, str]]) -> str:
    """What a topic is read from: the conversation's user turns."""
    return "\n".join(m["content"] for m in messages if m.get("role") == "user")


def infer_topic(model: TopicModel | None, messages: Sequence[dict[str, str]]) -> tuple[str, str]:
    """(topic, source) of a query without a category: ("", "") with no clusters yet."""
    if model is None:
        return "", ""
    return str(int(model.assign([prompt_text(messages)])[0])), "inferred"


def fit_topics(
    prompts: Sequence[str], seed: int = 0, min_prompts: int = MIN_PROMPTS
) -> TopicModel | None:
    return TopicModel.fit(prompts, seed=seed) if len(prompts) >= min_prompts else None


def rebuild(
    log: Any, owner: str, epoch: EpochPayload, before: int | None = None
) -> tuple[TopicModel | None, JudgeBook]:
    """The topic clusters and the judges' records of `owner`'s log (a
    `ConsensusLog`, in its thread), from the entries before `before` (all if None)."""
    history = log.judge_history(epoch.records, owner, before)
    prompts = [prompt_text(m) for m in log.recent_prompts(epoch.prompts, before)]
    model = fit_topics(prompts, epoch.seed, epoch.min_prompts)
    keys = [topic_key(source, topic) for source, topic, _, _ in history]
    if model is None:  # no clusters: an inferred topic of an earlier fit means nothing
        keys = ["" if h[0] == "inferred" else k for h, k in zip(history, keys, strict=True)]
    else:  # re-assign inferred (and untopiced) rounds, in one pass
        redo = [
            i
            for i, (source, _, messages, _) in enumerate(history)
            if source == "inferred" or (not source and messages)
        ]
        texts = [prompt_text(history[i][2]) for i in redo]
        found: list[int] = model.assign(texts).tolist() if redo else []
        for i, cluster in zip(redo, found, strict=True):
            keys[i] = topic_key("inferred", str(int(cluster)))
    book = JudgeBook.rebuilt(zip(keys, (h[3] for h in history), strict=True), epoch.records)
    return model, book


def default_epoch(min_prompts: int = MIN_PROMPTS) -> EpochPayload:
    return EpochPayload(prompts=PROMPTS, min_prompts=min_prompts, records=RECORD_ROUNDS)
