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


def test_spearman_ranks_each_row_with_shared_ranks_for_ties() -> None:
    from engine.metrics.base import correlate_rows, rank_rows

    np.testing.assert_array_equal(rank_rows(np.array([[10.0, 30.0, 20.0], [5.0, 5.0, 1.0]])),
                                  [[1, 3, 2], [2.5, 2.5, 1]])
    a = np.array([[1.0, 2.0, 3.0, 4.0], [4.0, 1.0, 3.0, 2.0]])
    b = a ** 3  # monotone: Spearman 1, Pearson below 1
    np.testing.assert_allclose(correlate_rows(a, b, "spearman"), [1.0, 1.0])
    assert np.all(correlate_rows(a, b) < 1.0)
