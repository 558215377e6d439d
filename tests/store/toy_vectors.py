"""Random unit vectors of the encoders' width for the store tests."""

import numpy as np

DIM = 128


def unit(rng: np.random.Generator) -> list[float]:
    v = rng.normal(size=DIM)
    return (v / np.linalg.norm(v)).tolist()
