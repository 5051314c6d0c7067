"""The vocabulary every layer shares: the model's input features and the masking score.

A leaf: it imports nothing of the package, so data, models, losses and
serving agree on these names without depending on each other.
"""

# The packed inputs of every encoder family, in this order: token ids, segment ids (0 for the first
# text, 1 for the second) and the padding mask (true at real tokens).
FEATURES = ("token_ids", "segment_ids", "padding_mask")

# Large enough that exp() of it underflows to 0 next to any real score, small
# enough to stay finite in float32 and bfloat16 sums. Used for masked attention
# positions (SAN), padded ranking candidates in the loss, and in serving outputs.
MASKED_SCORE = -1e9
