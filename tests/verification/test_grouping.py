from verification import group_identical


def test_identical_answers_group_after_whitespace_folding() -> None:
    texts = ["Paris.", " Paris.\n", "paris.", "Lyon", "Paris."]
    assert group_identical(texts) == [[0, 1, 4], [2], [3]]
    assert group_identical([]) == []
