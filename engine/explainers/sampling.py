"""Gaussian noise for the sampling methods (SmoothGrad family, expected gradients).

Noise is drawn per case from ``explainer.case_rng(case, stream)`` in one block of
``nb_samples`` draws, so row r = case * nb_samples + j always gets the same noise whatever the
batch size or the batch a row falls in (results are batch-size invariant and reproducible).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def noise_scale(x: np.ndarray, fraction: float) -> np.ndarray:
    """Per-case standard deviation: `fraction` of each case's value range (1 if it is flat)."""
    flat = x.reshape(len(x), -1)
    spread = flat.max(axis=1) - flat.min(axis=1)
    return (fraction * np.where(spread > 0, spread, 1.0)).astype(np.float32)


class CaseNoise:
    """Noise rows for rows [start, stop) of an (n_cases * nb_samples)-row job."""

    KEEP_BYTES = 256 << 20  # keep every case's block when all of them fit in this

    def __init__(self, explainer: Any, shape: tuple[int, ...], nb_samples: int, sigma: np.ndarray, stream: int = 0):
        self._explainer = explainer
        self._shape = shape
        self._nb = nb_samples
        self._sigma = sigma
        self._stream = stream
        self._blocks: dict[int, np.ndarray] = {}
        self._keep_all = len(sigma) * nb_samples * int(np.prod(shape)) * 4 <= self.KEEP_BYTES

    def rows(self, start: int, stop: int) -> np.ndarray:
        out = np.empty((stop - start, *self._shape), dtype=np.float32)
        row = start
        while row < stop:  # rows are sorted by case: copy one contiguous run per case
            case, sample = divmod(row, self._nb)
            take = min(self._nb - sample, stop - row)
            out[row - start : row - start + take] = self._block(case)[sample : sample + take]
            row += take
        return out

    def _block(self, case: int) -> np.ndarray:
        """The case's nb_samples noise draws, drawn once while memory allows (methods that pass
        over the rows twice reuse them), else only for the cases in use."""
        block = self._blocks.get(case)
        if block is None:
            rng = self._explainer.case_rng(case, self._stream)
            block = rng.standard_normal((self._nb, *self._shape), dtype=np.float32)
            block *= self._sigma[case]
            if not self._keep_all:
                self._blocks = {k: v for k, v in self._blocks.items() if k >= case - 1}
            self._blocks[case] = block
        return block
