"""The one value used to mask scores before a softmax or log-sum-exp."""

# Large enough that exp() of it underflows to 0 next to any real score, small
# enough to stay finite in float32 and bfloat16 sums. Used for masked attention
# positions (SAN), padded ranking candidates in the loss, and in serving outputs.
MASKED_SCORE = -1e9
