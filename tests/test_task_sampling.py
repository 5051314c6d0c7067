from collections import Counter

from mtdnn_tf.training.task_sampling import algorithm1_order


def test_every_batch_appears_once_and_order_is_shuffled_per_epoch():
    counts = {"mnli": 30, "rte": 5, "stsb": 12}
    first = algorithm1_order(counts, seed=3, epoch=0)
    second = algorithm1_order(counts, seed=3, epoch=1)
    assert Counter(first) == Counter(counts) == Counter(second)
    assert first != second
    assert first == algorithm1_order(counts, seed=3, epoch=0)
    assert first != algorithm1_order(counts, seed=4, epoch=0)
    # Mixed, not task after task: rte batches are spread over the epoch.
    positions = [i for i, name in enumerate(first) if name == "rte"]
    assert positions[-1] - positions[0] > 10


import numpy as np
import pytest

from mtdnn_tf.training.task_sampling import (
    ANNEALED_FINAL_EXPONENT,
    SAMPLERS,
    sampling_probabilities,
)

SIZES = {"mnli": 4000, "mrpc": 400, "rte": 40}
BATCHES = {name: -(-n // 32) for name, n in SIZES.items()}


@pytest.mark.parametrize("name, epoch, expected", [
    ("uniform", 0, [1 / 3] * 3),
    ("proportional", 0, np.array([4000, 400, 40]) / 4440),
    ("temperature", 0, np.sqrt([4000, 400, 40]) / np.sqrt([4000, 400, 40]).sum()),  # T = 2
    ("annealed", 0, np.array([4000, 400, 40]) / 4440),  # the first epoch is proportional
    ("annealed", 4, np.power([4000, 400, 40], ANNEALED_FINAL_EXPONENT)
     / np.power([4000, 400, 40], ANNEALED_FINAL_EXPONENT).sum()),  # the last of 5: near uniform
])
def test_drawn_task_frequencies_match_the_intended_distribution(name, epoch, expected):
    p = sampling_probabilities(name, SIZES, epoch=epoch, num_epochs=5, temperature=2.0)
    np.testing.assert_allclose(list(p.values()), expected, rtol=1e-9)
    order = SAMPLERS.get(name).epoch_order(SIZES, BATCHES, seed=7, epoch=epoch, num_epochs=5, steps=40_000,
                                           temperature=2.0)
    assert len(order) == 40_000
    frequencies = [order.count(task) / len(order) for task in SIZES]
    # 40,000 draws: the standard error of each frequency is below 0.0025.
    np.testing.assert_allclose(frequencies, expected, atol=0.01)


def test_drawn_orders_are_seeded_per_epoch_and_default_to_algorithm1s_length():
    sampler = SAMPLERS.get("temperature")
    first = sampler.epoch_order(SIZES, BATCHES, seed=1, epoch=0, num_epochs=3, temperature=2.0)
    assert len(first) == sum(BATCHES.values())  # no budget given: as many steps as Algorithm 1
    assert first == sampler.epoch_order(SIZES, BATCHES, seed=1, epoch=0, num_epochs=3, temperature=2.0)
    assert first != sampler.epoch_order(SIZES, BATCHES, seed=1, epoch=1, num_epochs=3, temperature=2.0)
    assert first != sampler.epoch_order(SIZES, BATCHES, seed=2, epoch=0, num_epochs=3, temperature=2.0)


def test_sampling_settings_are_checked():
    from mtdnn_tf.errors import UserInputError
    from mtdnn_tf.training.train_config import TrainConfig

    with pytest.raises(UserInputError, match=r"^task_sampling: must be one of algorithm1, uniform, proportional, "
                                             r"temperature, annealed, got 'random'$"):
        TrainConfig(task_sampling="random")
    with pytest.raises(UserInputError, match=r"^steps_per_epoch: must be 0 with --task_sampling=algorithm1"):
        TrainConfig(steps_per_epoch=100)
    with pytest.raises(UserInputError, match=r"^sampling_temperature: must be a positive number, got 0"):
        TrainConfig(task_sampling="temperature", sampling_temperature=0)
    config = TrainConfig(task_sampling="uniform", steps_per_epoch=100, epochs=3)
    assert config.total_steps({"a": [0] * 10}) == 300
