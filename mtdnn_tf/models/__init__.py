"""The shared encoder, the task heads and the multi-task model."""
