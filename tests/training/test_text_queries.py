"""training.text_queries' scores on rankings whose answer is known."""

import numpy as np

from training.text_queries import ranking_scores


def test_a_perfect_ranking_and_one_with_an_intruder() -> None:
    embeddings = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.0, 1.0]] * 15)
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    query = np.array([1.0, 0.0])
    relevant = np.array([True, True, True, False] * 15)
    perfect = ranking_scores(query, embeddings, relevant)
    assert perfect["p@5"] == 1.0 and perfect["p@10"] == 1.0 and perfect["ap"] == 1.0
    assert perfect["p@50"] == 45 / 50  # only 45 relevant items exist

    intruder = relevant.copy()
    intruder[0] = False  # the nearest item is now of another class
    scores = ranking_scores(query, embeddings, intruder)
    assert scores["p@5"] == 4 / 5 and scores["ap"] < 1.0
