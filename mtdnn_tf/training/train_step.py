"""The training step: one task's loss, gradients, all-reduce, clipping, the finite check and the update,
and the tf.function that runs up to ``steps_per_loop`` such steps (``MultiTaskTrainer`` is the loop around it).

The step's loss is the task type's (``task_loss``), plus SMART's regulariser
(``smart.py``) and the distillation loss where they are on; each replica
contributes its share of the global-batch mean, the gradients are summed once
across replicas to clip the global gradient, and the update is skipped
(and reported) when the loss or the gradient norm is not finite.
"""

import keras
import tensorflow as tf

from mtdnn_tf.losses import soft_task_loss, task_loss
from mtdnn_tf.models.mtdnn_model import task_model, task_variables
from mtdnn_tf.training.smart import EmbeddingPath, outputs_and_regularizer, smart_seed


def all_reduce_once(optimizer):
    """Makes a Keras optimizer apply the gradients it is given without summing them over replicas.

    The step sums the gradients itself, once, to clip the global-batch gradient; the TensorFlow
    backend's optimizer would sum them again inside ``apply_gradients`` (its
    ``_all_reduce_sum_gradients``, which has no public switch): twice the step's largest traffic.
    """
    for inner in (optimizer, getattr(optimizer, "inner_optimizer", None)):
        if inner is not None:
            inner._all_reduce_sum_gradients = list  # noqa: SLF001 - see the docstring


class TrainStep:
    """Each trained task's replica step, and the loop function over them.

    Args:
        model: the functional model (built under ``strategy.scope()``).
        optimizer: its Keras optimizer, built in the same scope.
        tasks: name -> TaskConfig.
        train_names: the trained tasks, in the order of the loop's task ids.
        config: TrainConfig.
        strategy: the tf.distribute strategy.
    """

    def __init__(self, model, optimizer, tasks, train_names, config, strategy):
        self.model, self.optimizer, self.tasks = model, optimizer, tasks
        self.train_names, self.config, self.strategy = list(train_names), config, strategy
        if strategy.num_replicas_in_sync > 1:
            all_reduce_once(optimizer)

    def replica_step(self, name):
        """The step of task ``name`` on one replica: (the global-batch loss, whether the update was applied)."""
        task = self.tasks[name]
        head_model = task_model(self.model, name)
        variables = task_variables(self.model, name)
        replicas = self.strategy.num_replicas_in_sync
        clip_norm = self.config.clip_norm

        scaled = isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer)

        smart = self.config.smart.for_task(task.smart)
        path = EmbeddingPath(self.model) if smart.enabled else None

        distill_weight = self.config.distill_weight if task.distill_weight is None else task.distill_weight

        def loss_and_gradients(features, targets):
            # Each replica's share of the global-batch mean: its weighted sum over the global batch's weight.
            weights, units = targets["weights"], targets["units"]
            with tf.GradientTape() as tape:
                regularizer = tf.constant(0.0)
                if smart.enabled:  # SMART: the clean outputs and the adversarial regulariser (see smart.py)
                    outputs, regularizer = outputs_and_regularizer(
                        task, smart, path, features, smart_seed(self.config.seed, self.optimizer.iterations),
                        weights=weights, units=units)
                else:
                    outputs = task.task_type.forward(head_model, features, training=True)
                loss = task_loss(task, targets["labels"], outputs, weights, units)
                if "soft_targets" in targets:  # knowledge distillation
                    loss = ((1.0 - distill_weight) * loss + distill_weight
                            * soft_task_loss(task, targets["soft_targets"], outputs, features, weights, units))
                if smart.enabled:
                    loss += smart.alpha * regularizer * task.loss_weight
                scaled_loss = self.optimizer.scale_loss(loss) if scaled else loss
            return loss, tape.gradient(scaled_loss, variables), regularizer

        whole_step = self.config.xla_whole_step  # one device (checked in __init__)
        if self.config.jit_compile and not whole_step:  # XLA compiles once per padded shape (see bucket_lengths)
            loss_and_gradients = tf.function(loss_and_gradients, jit_compile=True)

        def replica_step(features, targets):
            loss, all_gradients, regularizer = loss_and_gradients(features, targets)
            # Known at trace time: e.g. the unused pooler has no gradient.
            pairs = [(g, v) for g, v in zip(all_gradients, variables) if g is not None]
            gradients = [g for g, _ in pairs]
            total_loss, total_regularizer = loss, regularizer
            if replicas > 1:  # The one all-reduce of the step (the losses ride along): clip the global gradient.
                *gradients, total_loss, total_regularizer = tf.distribute.get_replica_context().all_reduce(
                    tf.distribute.ReduceOp.SUM, gradients + [loss, regularizer])
            norm = tf.linalg.global_norm(gradients)
            # With loss scaling, overflowing gradients are the LossScaleOptimizer's to skip.
            finite = tf.math.is_finite(total_loss) & (tf.math.is_finite(norm) | scaled)
            if clip_norm > 0:
                # Scaled gradients are clipped at the scaled norm: the same as clipping
                # the true gradient; the LossScaleOptimizer unscales them after.
                limit = clip_norm * tf.cast(self.optimizer.dynamic_scale, tf.float32) if scaled else clip_norm
                gradients, _ = tf.clip_by_global_norm(gradients, limit, use_norm=norm)
            applied = self._apply_if_finite(finite, gradients, [v for _, v in pairs])
            return total_loss, applied, total_regularizer

        if whole_step:  # XLA for forward, backward, clipping and the update together (one device)
            replica_step = tf.function(replica_step, jit_compile=True)
        return replica_step

    def make_loop(self):
        """One tf.function that runs up to ``steps_per_loop`` steps: ``loop(iterators, task_ids, count)``
        takes the first ``count`` of ``task_ids`` (indices into the trained tasks), each step's batch from
        that task's iterator, and returns every step's loss, whether its update was applied and its SMART
        regulariser (0 for a task without SMART)."""
        steps = [self.replica_step(name) for name in self.train_names]
        strategy = self.strategy

        def branch(index, iterators):
            def run():
                features, targets = next(iterators[index])
                results = strategy.run(steps[index], args=(features, targets))
                # The same on every replica (all-reduced; one decision).
                return tuple(strategy.experimental_local_results(r)[0] for r in results)
            return run

        @tf.function
        def loop(iterators, task_ids, count):
            # Scalar elements: a loop of zero steps (MultiTaskTrainer.build_loop) stacks to empty vectors.
            losses = tf.TensorArray(tf.float32, size=count, element_shape=[])
            applied = tf.TensorArray(tf.bool, size=count, element_shape=[])
            regularizers = tf.TensorArray(tf.float32, size=count, element_shape=[])
            for i in tf.range(count):
                loss, ok, regularizer = tf.switch_case(task_ids[i],
                                                       [branch(j, iterators) for j in range(len(steps))])
                losses, applied = losses.write(i, loss), applied.write(i, ok)
                regularizers = regularizers.write(i, regularizer)
            return losses.stack(), applied.stack(), regularizers.stack()

        return loop

    def _apply_if_finite(self, finite, gradients, variables):
        """Applies the update only when ``finite``; returns whether it did.

        A cond whose branch synchronises replicas is not allowed in a replica
        context, so under strategies that merge, the decision is taken in the
        cross-replica context (as Keras' LossScaleOptimizer does).
        """
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            self.optimizer.apply_gradients(zip(gradients, variables))  # skips non-finite steps itself
            return finite

        def apply():
            self.optimizer.apply_gradients(zip(gradients, variables))
            return tf.constant(True)

        if self.strategy.num_replicas_in_sync == 1 or tf.__internal__.distribute.strategy_supports_no_merge_call():
            return tf.cond(finite, apply, lambda: tf.constant(False))

        def cross_replica(distribution, finite, gradients):
            finite = distribution.experimental_local_results(finite)[0]

            def apply_everywhere():
                distribution.extended.call_for_each_replica(
                    lambda g: self.optimizer.apply_gradients(zip(g, variables)), args=(gradients,))
                return tf.constant(True)

            return tf.cond(finite, apply_everywhere, lambda: tf.constant(False))

        return tf.distribute.get_replica_context().merge_call(cross_replica, args=(finite, gradients))
