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


def test_a_reordered_study_record_gives_the_same_paired_report():
    from mtdnn_tf.studies.results import collect
    from mtdnn_tf.studies.sections import effects_section as _effects_section

    accuracy = {("single_task", 1): 0.50, ("single_task", 2): 0.70, ("multi_task", 1): 0.60, ("multi_task", 2): 0.75}
    entries = {f"{kind}/demo_sentiment/seed{seed}" if kind == "single_task" else f"{kind}/seed{seed}":
               {"kind": kind, "task": "demo_sentiment" if kind == "single_task" else None, "seed": seed}
               for kind, seed in accuracy}
    records = {name: {"final": {"demo_sentiment": {"dev": {"accuracy": accuracy[(e["kind"], e["seed"])]}}}}
               for name, e in entries.items()}
    config = {"tasks": ["demo_sentiment"], "target": "demo_pair"}

    def effects(names):
        table, _ = collect({"config": config, "runs": {name: entries[name] for name in names}}, records)
        return _effects_section(config, table, [])

    # Seed 2's multi-task run recorded first (a rerun): still paired with seed 2's single-task run.
    shuffled = ["multi_task/seed2", "single_task/demo_sentiment/seed1", "multi_task/seed1",
                "single_task/demo_sentiment/seed2"]
    assert effects(shuffled) == effects(sorted(entries))
    row = next(line for line in effects(shuffled) if line.startswith("| demo_sentiment |"))
    assert row.split("|")[2].strip() == "+7.5 ± 3.5 (2 of 2 seeds > 0)"  # +10 and +5 points
