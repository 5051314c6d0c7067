"""Tokenise and pack texts into encoder inputs with the encoder's keras-hub tokenizer.

Packing is keras-hub's own for the tokenizer's family (``models.encoders.packer_for``):
for BERT, single sentences become ``[CLS] A [SEP]`` and pairs ``[CLS] A [SEP] B [SEP]``;
for RoBERTa ``<s> A </s></s> B </s>``. Segment ids are 0 for A and 1 for B (kept for
every family: the SAN head reads them). Sequences longer than ``max_seq_length`` are
truncated round-robin (the longer segment loses tokens first); ``pack``
reports each text's untruncated length so callers can count what was cut.
"""

import numpy as np
import tensorflow as tf

from mtdnn_tf.data.sequences import PackedSequences
from mtdnn_tf.features import FEATURES
from mtdnn_tf.models.encoders import (
    packer_for,
    special_token_count,
    unknown_token_id,
    word_prefix,
)
from mtdnn_tf.progress import progress_bar


class TextPacker:
    """Turns lists of strings into padded numpy arrays of token ids, segment ids and mask.

    Args:
        tokenizer: a keras-hub tokenizer of any encoder family (``BertTokenizer``, ``RobertaTokenizer``, ...).
        max_seq_length: packed length, including [CLS] and [SEP] tokens.

    Example:

    ```python
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=["[PAD]", "[UNK]", "[CLS]",
        "[SEP]", "[MASK]", "the", "cat"])
    packed = TextPacker(tokenizer, 8).pack(["the cat"], ["cat"])
    packed["segment_ids"]  # [[0, 0, 0, 0, 1, 1, 0, 0]]
    ```
    """

    def __init__(self, tokenizer, max_seq_length):
        self.tokenizer = tokenizer
        self.max_seq_length = max_seq_length
        self.packer = packer_for(tokenizer, max_seq_length)
        self._tokenize = None  # the tokenizer's tf.function (``_tokenized``), made at its first call
        self._unknown_id = None  # ``word_pieces``' unknown token, found at its first call

    def _segments(self, text_a, text_b):
        segments = (self.tokenizer(text_a),)
        if text_b is not None:
            segments += (self.tokenizer(text_b),)
        return segments

    def _pack_segments(self, segments):
        token_ids, segment_ids = self.packer(segments)
        return {
            "token_ids": token_ids,
            "segment_ids": segment_ids,
            "padding_mask": tf.cast(token_ids != self.tokenizer.pad_token_id, tf.int32),
        }

    def pack_tensors(self, text_a, text_b=None):
        """Packs string tensors in-graph; returns a dict of int32 tensors [batch, max_seq_length].

        The texts go through one ``tf.function`` of the tokenizer, traced once per input rank: a graph
        with many calls (every serving signature's, both texts of a pair) holds the tokenizer's ops once
        (a byte-pair tokenizer is some 2,000 of them)."""
        segments = (self._tokenized(text_a),) + (() if text_b is None else (self._tokenized(text_b),))
        return self._pack_segments(segments)

    def _tokenized(self, texts):
        """The tokenizer's ragged ids of a string tensor, through the one traced function."""
        if self._tokenize is None:
            self._tokenize = tf.function(self.tokenizer, autograph=False, reduce_retracing=True)
        return self._tokenize(texts)

    def word_pieces(self, words):
        """Each word of a 1-D string tensor tokenised on its own: ragged int32 [words, (pieces)], in graph
        or eagerly. Byte-pair words get a leading space (``word_prefix``); a word that tokenises to
        nothing gets the unknown token, so every word has a first subword."""
        prefix = word_prefix(self.tokenizer)
        pieces = self._tokenized(tf.strings.join([prefix, words]) if prefix else words)
        pieces = pieces.with_values(tf.cast(pieces.values, tf.int32))
        empty = tf.equal(pieces.row_lengths(), 0)
        if self._unknown_id is None:  # looked up once: a WordPiece lookup scans the whole vocabulary
            self._unknown_id = unknown_token_id(self.tokenizer)
        unknown = tf.fill([tf.shape(words)[0], 1], tf.constant(self._unknown_id, tf.int32))
        with_unknown = tf.concat([pieces, tf.RaggedTensor.from_tensor(unknown)], axis=1)
        keep = tf.concat([tf.ones_like(pieces, tf.bool), tf.RaggedTensor.from_tensor(empty[:, None])], axis=1)
        return tf.ragged.boolean_mask(with_unknown, keep)

    def pack_word_pieces(self, pieces, words_per_sequence):
        """Packs sequences of words (``pieces``: ragged [words, (pieces)], the words of each sequence in
        turn; ``words_per_sequence`` [sequences]) as single texts. Returns (features [sequences,
        max_seq_length], positions: ragged int [sequences, (words)], where each word's first subword
        sits; a word cut by the packed length has a position at or beyond ``word_capacity_end``)."""
        per_sequence = tf.RaggedTensor.from_row_lengths(pieces, tf.cast(words_per_sequence, tf.int64))
        features = self._pack_segments((per_sequence.merge_dims(1, 2),))
        counts = pieces.row_lengths()
        before = tf.cumsum(counts, exclusive=True)  # pieces before each word, over all sequences
        first_word = per_sequence.row_starts()
        offsets = tf.gather(tf.concat([before, tf.zeros([1], before.dtype)], 0), first_word)  # each sequence's
        positions = before - tf.repeat(offsets, per_sequence.row_lengths()) + len(self.packer.start_value)
        return features, tf.RaggedTensor.from_row_lengths(positions, per_sequence.row_lengths())

    @property
    def word_capacity_end(self):
        """The first position a word's first subword cannot take (the end tokens begin there at the latest)."""
        return self.max_seq_length - len(self.packer.end_value)

    @property
    def word_capacity(self):
        """How many subwords of a single text fit beside its special tokens."""
        return self.max_seq_length - special_token_count(self.packer, 1)

    def pack(self, text_a, text_b=None, chunk_size=4096, description=None, with_lengths=False):
        """Packs python lists of strings; returns numpy int32 arrays [n, max_seq_length].

        Args:
            text_a: first texts.
            text_b: second texts (pairs), or None.
            chunk_size: texts tokenised per call.
            description: if given, a progress bar with this title is shown.
            with_lengths: also return each example's untruncated packed length
                (special tokens included): ``(features, lengths)``.
        """
        chunks, lengths = zip(*self._chunks(text_a, text_b, chunk_size, description)) if len(text_a) else ((), ())
        features = {k: np.concatenate([c[k] for c in chunks]).astype(np.int32) if chunks
                    else np.zeros([0, self.max_seq_length], np.int32) for k in FEATURES}
        if with_lengths:
            return features, np.concatenate(lengths).astype(np.int64) if lengths else np.zeros([0], np.int64)
        return features

    def pack_sequences(self, text_a, text_b=None, chunk_size=4096, description=None):
        """Packs python lists of strings into a ``PackedSequences`` (real lengths, no padding kept);
        returns ``(sequences, untruncated packed lengths)``. Only one chunk is ever held padded."""
        parts, lengths = [], []
        for chunk, chunk_lengths in self._chunks(text_a, text_b, chunk_size, description):
            parts.append(PackedSequences.from_padded(chunk, self.tokenizer.vocabulary_size(),
                                                     self.tokenizer.pad_token_id))
            lengths.append(chunk_lengths)
        if not parts:
            empty = np.zeros([0, self.max_seq_length], np.int32)
            parts = [PackedSequences.from_padded({k: empty for k in FEATURES}, self.tokenizer.vocabulary_size(),
                                                 self.tokenizer.pad_token_id)]
            lengths = [np.zeros([0], np.int64)]
        return PackedSequences.concatenate(parts), np.concatenate(lengths).astype(np.int64)

    def _chunks(self, text_a, text_b, chunk_size, description):
        """Yields (padded features of a chunk as numpy arrays, the chunk's untruncated lengths)."""
        n = len(text_a)
        if text_b is not None and len(text_b) != n:
            raise ValueError(f"text_a has {n} entries but text_b has {len(text_b)}")
        bar = progress_bar(n, unit_name="text") if description and n > chunk_size else None
        if bar is not None:
            print(description)
        for start in range(0, n, chunk_size):
            a = tf.constant(text_a[start : start + chunk_size])
            b = None if text_b is None else tf.constant(text_b[start : start + chunk_size])
            segments = self._segments(a, b)
            chunk = {k: v.numpy() for k, v in self._pack_segments(segments).items()}
            # The segments' own tokens plus the family's special tokens.
            yield chunk, sum(_row_lengths(s) for s in segments) + special_token_count(self.packer, len(segments))
            if bar is not None:
                bar.update(min(start + chunk_size, n))


def _row_lengths(tokens):
    # keras-hub tokenizers return python lists eagerly and ragged tensors in graphs.
    if isinstance(tokens, tf.RaggedTensor):
        return tokens.row_lengths().numpy()
    return np.asarray([len(row) for row in tokens], np.int64)


def truncation_counts(lengths, max_seq_length):
    """How many packed examples lost tokens to ``max_seq_length``, and how many tokens.

    Args:
        lengths: untruncated packed lengths, as ``TextPacker.pack(with_lengths=True)`` gives.
        max_seq_length: the packed length.

    Returns:
        {"examples", "truncated", "tokens_cut", "longest", "max_seq_length"} as ints.
    """
    lengths = np.asarray(lengths, np.int64)
    over = np.maximum(lengths - max_seq_length, 0)
    return {
        "examples": int(len(lengths)),
        "truncated": int((over > 0).sum()),
        "tokens_cut": int(over.sum()),
        "longest": int(lengths.max()) if len(lengths) else 0,
        "max_seq_length": int(max_seq_length),
    }


def describe_truncation(counts, source):
    """One line for the user, e.g. 'Truncated at 128 tokens in RTE/train.tsv: 303 of 2490 (12.2%) ...'."""
    share = 100.0 * counts["truncated"] / max(counts["examples"], 1)
    return (f"Truncated at {counts['max_seq_length']} tokens in {source}: {counts['truncated']} of "
            f"{counts['examples']} examples ({share:.1f}%), {counts['tokens_cut']} tokens cut, "
            f"longest {counts['longest']}")
