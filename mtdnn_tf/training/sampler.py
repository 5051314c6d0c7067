"""The paper's Algorithm 1 batch order: merge all tasks' mini-batches, shuffle every epoch."""

import numpy as np


def algorithm1_order(batches_per_task, seed, epoch):
    """The task of each step of one epoch.

    Args:
        batches_per_task: ordered mapping task name -> number of mini-batches.
        seed: run seed; ``epoch`` is mixed in so every epoch has its own order.

    Returns:
        A list of task names, each appearing as often as it has batches, shuffled.

    Example:

    ```python
    algorithm1_order({"rte": 2, "mrpc": 3}, seed=0, epoch=0)
    # e.g. ['mrpc', 'rte', 'mrpc', 'mrpc', 'rte']
    ```
    """
    merged = [name for name, count in batches_per_task.items() for _ in range(count)]
    rng = np.random.default_rng([seed, epoch, 1_000_003])
    return [merged[i] for i in rng.permutation(len(merged))]
