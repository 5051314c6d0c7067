"""Which task each training step uses: the paper's Algorithm 1 and the samplers compared with it.

A sampler turns one epoch's per-task batch counts into the task of each step.
Every order is a pure function of (seed, epoch), so a resumed run recomputes
it and continues at its saved position.

- ``algorithm1`` (the default, the paper's): every batch of every task once
  per epoch, merged and shuffled.
- ``uniform``: each step draws a task with equal probability.
- ``proportional``: probability proportional to the task's examples per epoch.
- ``temperature``: probability proportional to size^(1/T) (T = 1 is
  proportional; larger T flattens towards uniform).
- ``annealed``: probability proportional to size^a, a moving linearly from 1
  (proportional) in the first epoch to ``ANNEALED_FINAL_EXPONENT`` (near
  uniform) in the last.

The drawing samplers take a steps-per-epoch budget (default: as many steps
as Algorithm 1 would take); a task drawn more often than it has batches
starts another pass over its (reshuffled) data.
"""

import numpy as np

from mtdnn_tf.registry import Registry

SAMPLERS = Registry("task sampler")
ANNEALED_FINAL_EXPONENT = 0.2


class TaskSampler:
    """One way of ordering an epoch's steps over the tasks."""

    name = None

    def epoch_order(self, sizes, batches, seed, epoch, num_epochs, steps=0, temperature=1.0):
        """The task name of each step of one epoch.

        Args:
            sizes: ordered mapping task -> training examples this epoch.
            batches: ordered mapping task -> mini-batches this epoch.
            seed, epoch: the order is a pure function of these.
            num_epochs: the run's epochs (annealing follows them).
            steps: steps in the epoch (0: the sum of ``batches``).
            temperature: the ``temperature`` sampler's T.
        """
        raise NotImplementedError


def algorithm1_order(batches_per_task, seed, epoch):
    """The paper's Algorithm 1: each task name as often as it has batches, shuffled.

    Example:

    ```python
    algorithm1_order({"rte": 2, "mrpc": 3}, seed=0, epoch=0)
    # e.g. ['mrpc', 'rte', 'mrpc', 'mrpc', 'rte']
    ```
    """
    merged = [name for name, count in batches_per_task.items() for _ in range(count)]
    rng = np.random.default_rng([seed, epoch, 1_000_003])
    return [merged[i] for i in rng.permutation(len(merged))]


@SAMPLERS.register
class Algorithm1Sampler(TaskSampler):
    name = "algorithm1"

    def epoch_order(self, sizes, batches, seed, epoch, num_epochs, steps=0, temperature=1.0):
        return algorithm1_order(batches, seed, epoch)


class DrawingSampler(TaskSampler):
    """Draws each step's task independently from ``probabilities``."""

    def probabilities(self, sizes, epoch, num_epochs, temperature):
        raise NotImplementedError

    def epoch_order(self, sizes, batches, seed, epoch, num_epochs, steps=0, temperature=1.0):
        names = list(sizes)
        steps = steps or sum(batches.values())
        p = self.probabilities(np.asarray([sizes[n] for n in names], float), epoch, num_epochs, temperature)
        rng = np.random.default_rng([seed, epoch, 2_000_003])
        return [names[i] for i in rng.choice(len(names), size=steps, p=p / p.sum())]


@SAMPLERS.register
class UniformSampler(DrawingSampler):
    name = "uniform"

    def probabilities(self, sizes, epoch, num_epochs, temperature):
        return np.ones_like(sizes)


@SAMPLERS.register
class ProportionalSampler(DrawingSampler):
    name = "proportional"

    def probabilities(self, sizes, epoch, num_epochs, temperature):
        return sizes


@SAMPLERS.register
class TemperatureSampler(DrawingSampler):
    name = "temperature"

    def probabilities(self, sizes, epoch, num_epochs, temperature):
        return sizes ** (1.0 / temperature)


@SAMPLERS.register
class AnnealedSampler(DrawingSampler):
    name = "annealed"

    def probabilities(self, sizes, epoch, num_epochs, temperature):
        return sizes ** annealed_exponent(epoch, num_epochs)


def annealed_exponent(epoch, num_epochs):
    """1 in the first epoch, ``ANNEALED_FINAL_EXPONENT`` in the last, linear in between."""
    if num_epochs <= 1:
        return 1.0
    return 1.0 - (1.0 - ANNEALED_FINAL_EXPONENT) * epoch / (num_epochs - 1)


def sampling_probabilities(name, sizes, epoch=0, num_epochs=1, temperature=1.0):
    """The per-step task probabilities of a drawing sampler (ordered like ``sizes``); for reports and tests."""
    sampler = SAMPLERS.get(name)
    p = sampler.probabilities(np.asarray(list(sizes.values()), float), epoch, num_epochs, temperature)
    return dict(zip(sizes, p / p.sum()))
