"""Reading, tokenising and batching task data."""
