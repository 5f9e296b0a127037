"""The statistics of LIME and Kernel SHAP: which coalitions to evaluate, how to weigh them, and
the surrogate fit that turns model scores into one value per interpretable unit.

Pure numpy / scikit-learn; the methods in lime.py and kernel_shap.py only add model evaluation.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

CHECK_EVERY = 4096  # coalitions drawn between cancel checks (a few ms)

# --- LIME (Ribeiro et al., 2016; as lime_image does it) ---------------------------------------

DISTANCES = ("cosine", "euclidean")


def lime_coalitions(n_units: int, nb_samples: int, rng: np.random.Generator) -> np.ndarray:
    """(S, M) 0/1: each unit on with probability 1/2; the first row is the unperturbed case."""
    coalitions = rng.integers(0, 2, size=(nb_samples, n_units)).astype(np.float32)
    coalitions[0] = 1.0
    return coalitions


def lime_kernel(coalitions: np.ndarray, kernel_width: float, distance: str = "cosine") -> np.ndarray:
    """LIME's proximity weight sqrt(exp(-d^2 / width^2)) of each coalition to the full case.

    Cosine distance (lime_image's choice) ignores how many units there are; the euclidean
    distance is divided by sqrt(M) so that one `kernel_width` suits any number of units.
    """
    z = coalitions.astype(np.float64)
    ones = np.ones(z.shape[1])
    if distance == "cosine":
        norms = np.linalg.norm(z, axis=1) * math.sqrt(z.shape[1])
        cosine = np.divide(z @ ones, norms, out=np.zeros(len(z)), where=norms > 0)
        d = 1.0 - cosine
    elif distance == "euclidean":
        d = np.linalg.norm(z - ones, axis=1) / math.sqrt(z.shape[1])
    else:
        raise ValueError(f"unknown distance {distance!r}")
    return np.sqrt(np.exp(-(d**2) / kernel_width**2))


def lime_fit(coalitions: np.ndarray, scores: np.ndarray, weights: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Coefficients (M,) of a weighted ridge surrogate score ~ coalitions (lime's default model:
    scikit-learn's Ridge(alpha, fit_intercept=True) with sample weights), in closed form.

    The intercept is removed by centring on the weighted means, then (Z'WZ + alpha I) b = Z'Wy is
    solved directly: the same coefficients as Ridge, without its per-call validation, which cost
    several times the model evaluations when NormLIME fits thousands of cases.
    """
    z = coalitions.astype(np.float64)
    y = scores.astype(np.float64)
    w = np.asarray(weights, np.float64)
    total = w.sum()
    zc = z - (w @ z) / total
    yc = y - (w @ y) / total
    weighted = zc * w[:, None]
    gram = weighted.T @ zc + alpha * np.eye(z.shape[1])
    return np.linalg.solve(gram, weighted.T @ yc).astype(np.float32)


# --- Kernel SHAP (Lundberg & Lee, 2017) ----------------------------------------------------


def shapley_kernel(n_units: int, size: int) -> float:
    """Weight of one coalition of `size` units among `n_units`: (M-1) / (C(M,s) s (M-s))."""
    return (n_units - 1) / (math.comb(n_units, size) * size * (n_units - size))


def shap_coalitions(
    n_units: int, nb_samples: int, rng: np.random.Generator, check: Callable[[], None] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Coalitions (S, M) and their regression weights, as the shap library draws them.

    Coalition sizes carry total Shapley-kernel mass proportional to (M-1)/(s(M-s)). Sizes whose
    every coalition fits in the budget (the smallest and largest first, where the kernel is
    heaviest) are enumerated with their exact weights; the rest of the budget is sampled by size
    and then uniformly, in complementary pairs, and shares the remaining mass. With
    nb_samples >= 2^M - 2 everything is enumerated and the result is the exact Shapley value.
    `check()` is called every CHECK_EVERY coalitions (it raises Cancelled to stop the draw).
    """
    check = check or (lambda: None)
    m = n_units
    if m < 2:
        return np.ones((1, m), np.float32), np.ones(1)
    n_sizes = math.ceil((m - 1) / 2)  # sizes s and m - s are handled together
    n_paired = (m - 1) // 2
    size_mass = np.array([(m - 1) / (s * (m - s)) for s in range(1, n_sizes + 1)])
    size_mass[:n_paired] *= 2
    size_mass /= size_mass.sum()

    rows: list[np.ndarray] = []
    weights: list[float] = []
    left = nb_samples
    remaining = size_mass.copy()
    n_full = 0
    for s in range(1, n_sizes + 1):
        paired = s <= n_paired
        count = math.comb(m, s) * (2 if paired else 1)
        if left * remaining[s - 1] / count < 1.0 - 1e-8:
            break
        n_full += 1
        left -= count
        if remaining[s - 1] < 1.0:
            remaining /= 1.0 - remaining[s - 1]
        w = size_mass[s - 1] / math.comb(m, s) / (2 if paired else 1)
        for count_done, members in enumerate(_subsets(m, s)):
            if count_done % CHECK_EVERY == 0:
                check()
            z = np.zeros(m, np.float32)
            z[list(members)] = 1.0
            rows.append(z)
            weights.append(w)
            if paired:
                rows.append(1.0 - z)
                weights.append(w)

    n_fixed = len(rows)
    if n_full < n_sizes and left > 0:
        mass = size_mass.copy()
        mass[:n_paired] /= 2  # each draw of a paired size adds two coalitions
        mass = mass[n_full:] / mass[n_full:].sum()
        seen: dict[bytes, int] = {}
        for draws, index in enumerate(rng.choice(len(mass), 4 * left, p=mass)):
            if left <= 0:
                break
            if draws % CHECK_EVERY == 0:
                check()
            s = index + n_full + 1
            z = np.zeros(m, np.float32)
            z[rng.permutation(m)[:s]] = 1.0
            left -= _add_sampled(z, rows, weights, seen)
            if s <= n_paired and left > 0:
                left -= _add_sampled(1.0 - z, rows, weights, seen)
        sampled = np.asarray(weights[n_fixed:])
        if sampled.size:
            weights[n_fixed:] = list(sampled * size_mass[n_full:].sum() / sampled.sum())
    return np.asarray(rows, np.float32).reshape(-1, m), np.asarray(weights, np.float64)


def _subsets(m: int, s: int):
    from itertools import combinations

    return combinations(range(m), s)


def _add_sampled(z: np.ndarray, rows: list, weights: list, seen: dict[bytes, int]) -> int:
    """Add a drawn coalition, or count it again if already drawn; returns evaluations used."""
    key = z.tobytes()
    if key in seen:
        weights[seen[key]] += 1.0
        return 0
    seen[key] = len(rows)
    rows.append(z)
    weights.append(1.0)
    return 1


def shap_solve(coalitions: np.ndarray, scores: np.ndarray, weights: np.ndarray, f_x: float, f_baseline: float) -> np.ndarray:
    """Shapley values (M,): weighted least squares with sum(values) = f(x) - f(baseline) exactly.

    The constraint is substituted out (the last unit's value is the gap minus the others), so
    the fit is an ordinary weighted least-squares problem on M-1 unknowns.
    """
    z = coalitions.astype(np.float64)
    gap = float(f_x) - float(f_baseline)
    if z.shape[1] == 1:
        return np.array([gap], np.float32)
    target = scores.astype(np.float64) - f_baseline - z[:, -1] * gap
    design = z[:, :-1] - z[:, -1:]
    root = np.sqrt(weights)[:, None]
    head, *_ = np.linalg.lstsq(design * root, target * root[:, 0], rcond=None)
    return np.append(head, gap - head.sum()).astype(np.float32)
