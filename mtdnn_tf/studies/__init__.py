"""The paper's comparisons as one study: single-task vs multi-task vs refinement, and domain adaptation."""
