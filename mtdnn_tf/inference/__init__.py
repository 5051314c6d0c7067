"""Inference shared by training and serving: batched prediction and evaluation of a task model.

Above data, models and task types, below training (which evaluates after each
epoch) and serving (``mtdnn_tf.predict``): both run the same ``Evaluator``.
"""
