from collections import Counter

from mtdnn_tf.training.sampler import algorithm1_order


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
