"""A node's inferred topics: clusters of its own past prompts (`reputation.topics`).

At start the node fits a `TopicModel` on the prompts of the latest `PROMPTS`
rounds in its log, once it has at least `MIN_PROMPTS` of them (fewer: no topic is
inferred, and every query without a category shares the judges' overall
records). A query without a category gets its cluster as its topic ("inferred",
the cluster's index), named in the signed announcement. The clusters are refitted
at each start, so the judges' records are rebuilt then with each past round's
prompt assigned by the new clusters (`rebuild_judges`); a client's category is
kept as the client named it.
"""

from collections.abc import Sequence
from typing import Any

from reputation.records import RECORD_ROUNDS, JudgeBook
from reputation.result import topic_key
from reputation.topics import TopicModel

__all__ = ["MIN_PROMPTS", "PROMPTS", "fit_topics", "infer_topic", "prompt_text", "rebuild_judges"]

MIN_PROMPTS = 64
PROMPTS = 2000


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


def rebuild_judges(log: Any, min_prompts: int = MIN_PROMPTS) -> tuple[TopicModel | None, JudgeBook]:
    """The topic clusters and the judges' records, from the log (in its thread)."""
    history = log.judge_history(RECORD_ROUNDS)
    prompts = [prompt_text(m) for m in log.recent_prompts(PROMPTS)]
    model = fit_topics(prompts, min_prompts=min_prompts)
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
    return model, JudgeBook.rebuilt(zip(keys, (h[3] for h in history), strict=True))
