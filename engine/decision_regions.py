"""Decision regions of a 2-D map: which class the model predicts in each area of the scatter.

A map (PCA / t-SNE / UMAP) has no inverse, so the model cannot be run "at" an empty spot of it.
What we shade instead is a k-nearest-neighbour classifier fitted on the projected points and the
model's *predicted* labels, evaluated on a grid. It answers "what does the model predict for the
cases that land near here", not "what would the model predict for an input that maps here":

- between clusters the shading is extrapolation from the nearest cases; `support` fades it out
  with the distance to the nearest case so that empty space is not painted with confidence;
- t-SNE and UMAP distort distances and areas (cluster sizes and gaps mean little), so a region's
  size or shape says nothing about the model's margin in feature space.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.errors import BadInputError

SUPPORT_REACH = 0.05
MEANING = (
    "Shading: the class that a k-nearest-neighbour classifier, fitted on the map's points and "
    "the model's predicted labels, gives each area; paler where the neighbours disagree and "
    "away from any case. It is a classifier of the projection, not the model's decision "
    "function: areas between clusters are extrapolation, and t-SNE/UMAP distort distances."
)


@dataclass(frozen=True)
class Regions:
    """A class per grid cell over `extent` = (x0, x1, y0, y1); row 0 is the lowest y."""

    classes: np.ndarray  # int16 (rows, cols): predicted class of the nearest cases
    confidence: np.ndarray  # float32 (rows, cols): share of the k neighbours that agree, 0..1
    support: np.ndarray  # float32 (rows, cols): 1 near cases, falling to 0 far from any case
    extent: tuple[float, float, float, float]
    k: int
    meaning: str = MEANING

    def cell_of(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the cell holding each (x, y) point (clipped to the grid)."""
        rows, cols = self.classes.shape
        x0, x1, y0, y1 = self.extent
        col = np.floor((points[:, 0] - x0) / (x1 - x0) * cols).astype(int)
        row = np.floor((points[:, 1] - y0) / (y1 - y0) * rows).astype(int)
        return np.clip(row, 0, rows - 1), np.clip(col, 0, cols - 1)

    def class_at(self, points: np.ndarray) -> np.ndarray:
        """The shaded class under each (x, y) point."""
        row, col = self.cell_of(np.asarray(points, dtype=float))
        return self.classes[row, col]


def decision_regions(
    coords: np.ndarray,
    predicted: np.ndarray,
    resolution: int = 200,
    k: int = 15,
    margin: float = 0.05,
) -> Regions:
    """A uniform k-nearest-neighbour vote of the predicted labels, on a resolution² grid.

    Cases with an unknown prediction (-1) are left out. `support` is a Gaussian of the grid
    cell's distance to its nearest case, in units of the larger of three typical
    nearest-neighbour spacings and SUPPORT_REACH of the map's diagonal.
    """
    from sklearn.neighbors import NearestNeighbors

    coords = np.asarray(coords, dtype=np.float64)
    predicted = np.asarray(predicted)
    known = predicted >= 0
    if coords.ndim != 2 or coords.shape[1] != 2 or len(coords) != len(predicted):
        raise BadInputError(f"Decision regions need (N, 2) coordinates and N labels, got {coords.shape}.")
    if known.sum() < 2:
        raise BadInputError("Decision regions need at least two cases with a predicted class.")
    points, labels = coords[known], predicted[known]
    k = int(min(k, len(points)))
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    pad_x, pad_y = max(x1 - x0, 1e-9) * margin, max(y1 - y0, 1e-9) * margin
    extent = (float(x0 - pad_x), float(x1 + pad_x), float(y0 - pad_y), float(y1 + pad_y))
    xs = np.linspace(extent[0], extent[1], resolution, endpoint=False) + (extent[1] - extent[0]) / (2 * resolution)
    ys = np.linspace(extent[2], extent[3], resolution, endpoint=False) + (extent[3] - extent[2]) / (2 * resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)

    # One neighbour search serves the vote (uniform kNN) and the distance to the nearest case.
    classes_, encoded = np.unique(labels, return_inverse=True)
    search = NearestNeighbors(n_neighbors=k).fit(points)
    distance, neighbours = search.kneighbors(grid)
    votes = np.zeros((len(grid), len(classes_)), np.int32)
    rows = np.arange(len(grid))
    for column in encoded[neighbours].T:  # one neighbour rank at a time: no repeated (row, class)
        votes[rows, column] += 1
    classes = classes_[votes.argmax(axis=1)]
    confidence = votes.max(axis=1) / k

    spacing = search.kneighbors(points, n_neighbors=2)[0][:, 1]
    diagonal = float(np.hypot(extent[1] - extent[0], extent[3] - extent[2]))
    scale = max(3.0 * float(np.median(spacing)), SUPPORT_REACH * diagonal, 1e-12)
    support = np.exp(-((distance[:, 0] / scale) ** 2))

    shape = (resolution, resolution)
    return Regions(
        classes=classes.reshape(shape).astype(np.int16),
        confidence=confidence.reshape(shape).astype(np.float32),
        support=support.reshape(shape).astype(np.float32),
        extent=extent,
        k=k,
    )
