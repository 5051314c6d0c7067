"""What differs between the keras-hub encoder families used as the shared encoder.

Everything here is read from the backbone and tokenizer objects themselves,
never from a flag: the inputs a backbone takes (RoBERTa, XLM-R, DeBERTa-v3 and
DistilBERT take no segment ids), whether it has a pooler (BERT, ALBERT and
ELECTRA do), and how texts are packed: keras-hub's own ``MultiSegmentPacker``
as the family's text-classifier preprocessor builds it (``[CLS] a [SEP] b
[SEP]`` for BERT; ``<s> a </s></s> b </s>`` for RoBERTa and XLM-R). Segment ids
are always packed, whether or not the backbone reads them: the SAN head's
premise and hypothesis masks come from them.

Example:

```python
seq, pooled = encode(backbone, {"token_ids": ids, "segment_ids": segments, "padding_mask": mask})
packer = packer_for(tokenizer, sequence_length=128)
```
"""

import keras_hub

# The families tested here (tiny random weights; BERT also with real MiniLM weights).
FAMILIES = ("albert", "bert", "deberta_v3", "distil_bert", "electra", "roberta", "xlm_roberta")


def family_name(layer):
    """The encoder family of a keras-hub backbone or tokenizer, e.g. 'bert', 'roberta', 'deberta_v3'."""
    name = type(layer).__name__
    for suffix in ("Backbone", "Tokenizer"):
        name = name.removesuffix(suffix)
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    return {"x_l_m_roberta": "xlm_roberta"}.get(snake, snake)


def backbone_inputs(backbone):
    """The names of the features ``backbone`` takes, e.g. ('token_ids', 'padding_mask')."""
    return tuple(backbone.input) if isinstance(backbone.input, dict) else ("token_ids", "padding_mask")


def has_pooler(backbone):
    """Whether ``backbone`` has a pooled output (BERT, ALBERT, ELECTRA)."""
    return isinstance(backbone.output, dict) and "pooled_output" in backbone.output


def encode(backbone, features):
    """(sequence output [batch, length, hidden], pooled output [batch, hidden] or None) of ``backbone``
    on the packed ``features`` (a dict holding at least the inputs it takes)."""
    outputs = backbone({name: features[name] for name in backbone_inputs(backbone)})
    if isinstance(outputs, dict):
        return outputs["sequence_output"], outputs.get("pooled_output")
    return outputs, None


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def preprocessor_class(tokenizer):
    """keras-hub's text-classifier preprocessor class for ``tokenizer``'s family; keras-hub's default
    packing (``start a end b end``) for a family without one (ELECTRA in keras-hub 0.32)."""
    for cls in _subclasses(keras_hub.models.TextClassifierPreprocessor):
        if getattr(cls, "tokenizer_cls", None) is type(tokenizer):
            return cls
    return keras_hub.models.TextClassifierPreprocessor


def packer_for(tokenizer, sequence_length, truncate="round_robin"):
    """The ``MultiSegmentPacker`` keras-hub packs ``tokenizer``'s family with."""
    preprocessor = preprocessor_class(tokenizer)(tokenizer=tokenizer, sequence_length=sequence_length,
                                                 truncate=truncate)
    preprocessor.build(None)
    return preprocessor.packer


def special_token_count(packer, segments):
    """How many special tokens ``packer`` adds to ``segments`` segments (start, separators, end)."""
    return len(packer.start_value) + len(packer.end_value) + len(packer.sep_value) * (segments - 1)


def packing_description(tokenizer, packer):
    """How ``packer`` packs texts, for clients that tokenise themselves (``tokenizer.json``)."""
    tokens = lambda ids: [tokenizer.id_to_token(int(i)) for i in ids]  # noqa: E731
    return {
        "family": family_name(tokenizer),
        "start": tokens(packer.start_value), "separator": tokens(packer.sep_value), "end": tokens(packer.end_value),
        "pad_id": int(tokenizer.pad_token_id),
        "layout": "start A separator B end (a single text: start A end); segment ids 0 up to and including the"
                  " separator, 1 after it; truncation round-robin, the longer text first",
        "words": "sequence labelling: tokenise each word on its own" + (" with a leading space" if word_prefix(
                 tokenizer) else "") + ", a word without subwords as the unknown token; pack the words'"
                 " subwords as one text; a word's tag is read at its first subword",
    }


def unknown_token_id(tokenizer):
    """The id of ``tokenizer``'s unknown token ('[UNK]', '<unk>'): what a word that tokenises to nothing
    (a zero-width character, say) is given, so that it still has a first subword to be labelled at."""
    if getattr(tokenizer, "unk_token_id", None) is not None:
        return int(tokenizer.unk_token_id)
    vocabulary = set(tokenizer.get_vocabulary())
    for token in (getattr(tokenizer, "oov_token", None), "[UNK]", "<unk>"):
        if token is not None and token in vocabulary:
            return int(tokenizer.token_to_id(token))
    raise ValueError(f"the {family_name(tokenizer)} tokenizer has no unknown token ('[UNK]' or '<unk>')")


def word_prefix(tokenizer):
    """What goes before each word tokenised on its own: a space for byte-level byte-pair tokenizers
    (RoBERTa's 'Ġ' marks a word start; Hugging Face's add_prefix_space), nothing for WordPiece and
    SentencePiece (which mark word starts themselves)."""
    return " " if isinstance(tokenizer, keras_hub.tokenizers.BytePairTokenizer) else ""
