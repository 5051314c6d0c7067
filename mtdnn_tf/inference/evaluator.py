"""Evaluating every task's dev splits with its GLUE metrics."""

import logging

import numpy as np
import tensorflow as tf

from mtdnn_tf.data.distributed_input import input_options
from mtdnn_tf.data.pipeline import InputShard, eval_dataset
from mtdnn_tf.models.mtdnn_model import task_model
from mtdnn_tf.progress import progress_bar


class _OneTracePerTask(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning about the evaluator's steps: each task's
    step is traced once, but TensorFlow counts the traces of closures with the same code together, so five
    tasks or more read as retracing."""

    def filter(self, record):
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message and "Evaluator._predict_step" in message)


tf.get_logger().addFilter(_OneTracePerTask())


class Evaluator:
    """Runs a task's head over whole splits under ``strategy`` and computes metrics.

    Args:
        model: the multi-task model.
        strategy: the tf.distribute strategy the model was built under.
        batch_size: global evaluation batch size.
        jit_compile: compile the forward pass with XLA.
        bucketed: cut batches to bucket lengths (see ``bucket_lengths``) rather
            than running every batch at ``max_seq_length``; results are the same.
    """

    def __init__(self, model, strategy, batch_size=64, jit_compile=False, bucketed=True):
        self.model = model
        self.strategy = strategy
        self.batch_size = batch_size
        self.jit_compile = jit_compile
        self.bucketed = bucketed
        self._steps = {}

    def _predict_step(self, task, element_spec):
        task_name = task.name
        if task_name not in self._steps:
            head_model = task_model(self.model, task_name)

            def forward(features):
                return task.task_type.forward(head_model, features)

            if self.jit_compile:
                forward = tf.function(forward, jit_compile=True)

            @tf.function(input_signature=[element_spec])
            def step(features):
                outputs = self.strategy.run(forward, args=(features,))
                return self.strategy.gather(outputs, axis=0)

            self._steps[task_name] = step
        return self._steps[task_name]

    def predict(self, task, split, description=None):
        """Model outputs for every unit (example, or ranking group) of a PackedSplit, in order.

        With bucketing, units run sorted by length, so each batch pads to
        little more than its own longest unit; outputs come back in file order.
        With a ``description``, it is printed and a progress bar over the batches follows.
        """
        order = np.argsort(split.lengths, kind="stable") if self.bucketed else None
        batches = -(-len(split) // self.batch_size)
        # Each replica gets a contiguous shard of each batch; gathered in replica order they are the batch.
        dataset = self.strategy.distribute_datasets_from_function(
            lambda context: eval_dataset(split, self.batch_size, self.bucketed, order, InputShard.of(context)),
            input_options(self.strategy))
        step = self._predict_step(task, dataset.element_spec)
        bar = None
        if description:
            print(description)
            bar = progress_bar(batches, unit_name="batch")
        parts = []
        for features in dataset:
            parts.append(step(features).numpy())
            if bar is not None:
                bar.update(len(parts))
        outputs = task.task_type.join_outputs(task, parts, split)
        if order is None:
            return outputs
        in_file_order = np.empty_like(outputs)
        in_file_order[order] = outputs
        return in_file_order

    def evaluate(self, tasks, splits):
        """Metrics for each task and labelled evaluation split.

        Args:
            tasks: mapping name -> TaskConfig.
            splits: mapping name -> {split name: PackedSplit}.

        Returns:
            {task: {split: {metric: value}}}
        """
        results = {}
        for name, task in tasks.items():
            for split_name, split in splits.get(name, {}).items():
                if split.labels is None:
                    continue
                outputs = self.predict(task, split)
                results.setdefault(name, {})[split_name] = task.task_type.evaluate(task, outputs, split)
        return results
