"""Inferred topics: prompts of different kinds fall in different clusters, the same
way on every run, and a new prompt goes to its kind's cluster."""

import numpy as np
import pytest

from reputation.topics import TopicModel, default_topics

KINDS = {
    "base": [
        f"What is {a} + {b} in base 9? Give only the digits."
        for a, b in [(15, 27), (33, 44), (18, 71), (62, 25), (41, 36), (70, 13)]
    ],
    "recipe": [
        f"Write a recipe for {d} with a list of ingredients and the steps."
        for d in ["lentil soup", "apple pie", "fried rice", "pancakes", "tomato sauce", "bread"]
    ],
    "email": [
        f"Draft a short polite email to {w} asking to move our meeting."
        for w in ["my manager", "a client", "the landlord", "a professor", "my team", "a supplier"]
    ],
}


def test_distinct_kinds_of_prompts_get_distinct_topics() -> None:
    texts = [t for kind in KINDS.values() for t in kind]
    model = TopicModel.fit(texts, k=3, seed=0)
    labels = model.assign(texts).reshape(3, -1)
    assert all(len(set(row)) == 1 for row in labels)  # each kind in one topic
    assert len({row[0] for row in labels}) == 3  # and the kinds apart
    again = TopicModel.fit(texts, k=3, seed=0)
    assert np.array_equal(again.assign(texts), model.assign(texts))  # reproducible
    new = [
        "What is 52 + 16 in base 9? Give only the digits.",
        "Write a recipe for onion soup with a list of ingredients and the steps.",
    ]
    assert list(model.assign(new)) == [labels[0][0], labels[1][0]]


def test_topic_count_and_bad_input() -> None:
    assert default_topics(1200) == 12 and default_topics(3) == 1
    assert TopicModel.fit(["only one prompt"]).size == 1
    with pytest.raises(ValueError):
        TopicModel.fit([])
