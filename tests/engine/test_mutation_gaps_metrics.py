"""Gaps the mutation harness found in engine.metrics' tests: the region scores' known answers."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import BadInputError
from engine.metrics.region import region_mask, region_scores


def test_a_box_of_no_height_or_no_width_is_refused() -> None:
    for box in [(2, 0, 2, 4), (0, 3, 4, 3)]:
        with pytest.raises(BadInputError, match="does not overlap the image"):
            region_mask((4, 4), box, (4, 4))
    assert region_mask((2, 2), (0, 0, 2, 2), (4, 4)).tolist() == [[True, False], [False, False]]  # scaled


def test_mass_inside_counts_positive_mass_unless_the_map_has_none() -> None:
    mixed = np.array([[3.0, -5.0], [0.0, 1.0]])
    scores = region_scores(mixed, (0, 0, 1, 1), (2, 2))
    assert scores.pointing_hit and scores.mass_inside == pytest.approx(3 / 4)  # negatives do not count
    negative = np.array([[-1.0, -3.0], [0.0, 0.0]])
    assert region_scores(negative, (0, 1, 1, 2), (2, 2)).mass_inside == pytest.approx(3 / 4)  # |values|
    assert np.isnan(region_scores(np.zeros((2, 2)), (0, 0, 1, 1), (2, 2)).mass_inside)
