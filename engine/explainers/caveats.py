"""Plain-word warnings for maps that mean nothing, attached to every Explanation.

A validator must not read a heat map of an untrained model (every probability 0.001,
attribution values around 1e-13) as if it were evidence. These checks are numpy only and
cheap; each returns sentences meant for the reviewer, or nothing when all is well.
"""

from __future__ import annotations

import numpy as np

UNIFORM_ENTROPY = 0.97  # normalised entropy above which an output is "near uniform"
NEGLIGIBLE = 1e-7  # largest |map| value below this fraction of |output| is numerically negligible


def probabilities(outputs: np.ndarray, are_logits: bool) -> np.ndarray:
    """(N, K) class probabilities from the outputs an explainer saw (softmax/sigmoid of logits)."""
    out = np.asarray(outputs, dtype=np.float64)
    if not are_logits:
        return np.concatenate([1.0 - out, out], axis=1) if out.shape[1] == 1 else out
    if out.shape[1] == 1:
        p = 1.0 / (1.0 + np.exp(-out))
        return np.concatenate([1.0 - p, p], axis=1)
    shifted = np.exp(out - out.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def output_warnings(probs: np.ndarray) -> list[str]:
    """Warn when every case's output is close to uniform over the classes."""
    k = probs.shape[1]
    if k < 2:
        return []
    p = np.clip(probs, 1e-12, 1.0)
    entropy = -(p * np.log(p)).sum(axis=1) / np.log(k)
    if np.all(entropy > UNIFORM_ENTROPY):
        top = float(probs.max())
        return [
            f"The model's output is nearly uniform (top probability {top:.3g} over {k} classes): "
            "it is untrained, does not match these inputs, or the preprocessing is wrong; "
            "no map of it can show real evidence."
        ]
    return []


def map_warnings(maps: np.ndarray, scores: np.ndarray | None, title: str = "The") -> list[str]:
    """Warn when a case's map is all zero, constant, or negligible against the target's output
    (that last check needs `scores`: per case the larger of |score| and the class probability)."""
    flat = np.abs(np.asarray(maps, dtype=np.float64).reshape(len(maps), -1))
    largest = flat.max(axis=1)
    spread = np.ptp(np.asarray(maps, dtype=np.float64).reshape(len(maps), -1), axis=1)
    if np.any(largest == 0):
        return [f"{title} map is all zero: the method found nothing for this class, so it shows no evidence at all."]
    if np.any(spread == 0):
        return [f"{title} map is constant: every pixel gets the same value, so it says nothing about where the evidence is."]
    if scores is None:
        return []
    scale = np.maximum(np.abs(np.asarray(scores, dtype=np.float64)), 1e-30)
    if np.any(largest < NEGLIGIBLE * scale):
        ratio = float(np.min(largest / scale))
        return [
            f"{title} map is numerically negligible: its largest value is {ratio:.1e} times the class score, "
            "so its pattern is rounding noise, not evidence."
        ]
    return []


def add_output_warnings(warnings: tuple[str, ...], probs: np.ndarray, target_probs: np.ndarray,
                        maps: np.ndarray, title: str) -> tuple[str, ...]:
    """`warnings` plus the output-based ones, for a result explained without its outputs at hand.

    probs: (N, K) class probabilities of the cases; target_probs: (N,) the explained class's.
    A sentence whose headline (the words before its colon) is already there is not repeated.
    """
    seen = {w.split(": ", 1)[0].split(" (", 1)[0] for w in warnings}
    extra = [*output_warnings(probs), *map_warnings(maps, target_probs, title)]
    return tuple([*warnings, *(w for w in extra if w.split(": ", 1)[0].split(" (", 1)[0] not in seen)])
