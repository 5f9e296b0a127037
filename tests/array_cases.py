"""A stand-in for engine.data.Dataset in tests: the cases are the given array, used as is."""

from __future__ import annotations

import numpy as np


class ArrayCases:
    """What the activation task and views need of a Dataset: model-ready inputs and images."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self.hash = "arrays"

    def __len__(self) -> int:
        return len(self.x)

    def inputs(self, indices) -> np.ndarray:
        return self.x[list(indices)]

    def display_image(self, i: int) -> np.ndarray:
        return self.x[i, ..., 0]
