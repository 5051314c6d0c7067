"""Algorithm-1 multi-task training under a tf.distribute strategy."""
