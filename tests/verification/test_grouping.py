from verification import group_identical


def test_identical_answers_group_after_whitespace_folding() -> None:
    texts = ["Paris.", " Paris.\n", "paris.", "Lyon", "Paris."]
    assert group_identical(texts) == [[0, 1, 4], [2], [3]]
    assert group_identical([]) == []


def test_near_identical_answers_group_and_distinct_ones_do_not() -> None:
    from verification import group_near
    from verification.signatures import shingles, signatures

    base = (
        "To bake bread, mix flour, water, salt and yeast, knead the dough for ten minutes, "
        "let it rise for an hour, shape it and bake it at two hundred degrees."
    )
    texts = [
        base,
        "Bananas are rich in potassium and make a quick, healthy snack before exercise.",
        base + " Enjoy!",
        "Yes.",
        "yes.",
        " Yes. ",
    ]
    sigs = signatures(texts)
    sizes = [len(shingles(t)) for t in texts]
    assert group_near(texts, sigs, sizes) == [[0, 2], [1], [3, 5], [4]]
