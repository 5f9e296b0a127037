"""Insertion (Petsiuk et al., 2018): how fast the target's output rises as the features the map
ranks first are revealed on a baseline input. A faithful map makes it rise early: higher is better.

The mirror of deletion (same ranking, counts and trapezoid rule; see engine.metrics.deletion):
at each count, the top features keep their values and every other feature is the baseline.
"""

from __future__ import annotations

from engine.metrics.deletion import Deletion


class Insertion(Deletion):
    name = "insertion"
    title = "Insertion AUC"
    description = "Area under the class score as the map's top pixels are revealed first: higher means the map found what the model uses."
    better = "higher"
    reveal = True
