"""Report cells: a setting over seeds as mean ± spread, an effect as differences paired by seed."""

import pytest

from mtdnn_tf.studies.cells import averaged_series, effect_cell, mean_cell


def test_a_setting_is_its_mean_and_sample_spread_with_each_seed_in_seed_order():
    assert mean_cell({1: 0.5, 2: 0.6}, each=True) == "55.0 ± 7.1 (50.0, 60.0)"
    assert mean_cell({2: 0.6, 1: 0.5}, each=True) == "55.0 ± 7.1 (50.0, 60.0)"
    assert mean_cell({1: 0.5, 2: 0.6}) == "55.0 ± 7.1"
    assert mean_cell({3: 0.675}) == "67.5"


def test_an_effect_is_paired_by_seed_and_says_how_many_seeds_agree():
    # Differences +10, +10, -5 points: mean +5.0, sample sd 8.66, two of three seeds positive.
    assert effect_cell({1: 0.6, 2: 0.7, 3: 0.5}, {1: 0.5, 2: 0.6, 3: 0.55}) == "+5.0 ± 8.7 (2 of 3 seeds > 0)"
    assert effect_cell({0: 0.4, 1: 0.5}, {0: 0.5, 1: 0.6}, unit="draw") == "-10.0 ± 0.0 (2 of 2 draws < 0)"
    assert effect_cell({1: 0.675}, {1: 0.567}) == "+10.8 (1 seed)"
    # Pairs only the seeds both have (a study still running), wherever they sit.
    assert effect_cell({1: 0.6, 2: 0.7, 3: 0.8}, {2: 0.5}) == "+20.0 (1 seed)"
    assert effect_cell({}, {1: 0.5}) == "—"


def test_an_effect_pairs_equal_seeds_whatever_order_they_were_recorded_in():
    ordered = effect_cell({1: 0.6, 2: 0.9}, {1: 0.5, 2: 0.6})  # +10 and +30 points
    assert ordered == "+20.0 ± 14.1 (2 of 2 seeds > 0)"
    assert effect_cell({2: 0.9, 1: 0.6}, {1: 0.5, 2: 0.6}) == ordered


def test_the_average_over_tasks_is_taken_per_seed_over_the_seeds_every_task_has():
    table = {("multi_task", "rte", None, None): {1: 0.6, 2: 0.8}, ("multi_task", "mrpc", None, None): {2: 0.6}}
    assert averaged_series(table, "multi_task", ["rte", "mrpc"]) == {2: pytest.approx(0.7)}
    assert averaged_series(table, "single_task", ["rte"]) == {}
