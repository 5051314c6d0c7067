"""Sequence labelling: one tag per word of a sentence (named-entity recognition on CoNLL-2003).

A sentence is a list of words with one tag each (CoNLL columns, or JSON lines
``{"tokens": [...], "tags": [...]}``). Each word is tokenised on its own and its
tag is predicted at its first subword; the other subwords and the special
tokens are left out of the loss and the metrics (the official MT-DNN's and
Hugging Face's convention). A sentence longer than the packed length is cut
into windows of whole words, each packed as one sequence: every word of every
sentence is trained on, evaluated and predicted. Only a single word longer than
a whole window loses subwords (its first is kept), and that is counted as
truncation.

The head is per token (``head.kind: linear`` builds ``TokenLinearHead``); the
loss is token cross-entropy summed over a unit's labelled words and divided by
the global batch's labelled-word count. Metrics are seqeval's strict IOB2
entity precision, recall and F1 (micro-averaged) and token accuracy.
"""

import pathlib

import numpy as np
import tensorflow as tf

from mtdnn_tf import losses, metrics
from mtdnn_tf.data.pipeline import PackedSplit, trim_features
from mtdnn_tf.data.sequences import PackedSequences
from mtdnn_tf.progress import progress_bar
from mtdnn_tf.task_types.base import TaskType
from mtdnn_tf.task_types.registry import register_task_type

IGNORED = -1  # the label of positions without a word start (special tokens, later subwords, padding)
ENTITY_METRICS = ("f1", "precision", "recall")


@register_task_type
class SequenceLabelingType(TaskType):
    """Tag logits [batch, length, tags]; per word, the tag at its first subword.

    Serving outputs on raw text (``tokens``: [batch, words] strings, '' padding): ``tags`` [batch, words]
    ('' for padding and for words beyond the packed length), ``tag_ids`` (-1 there) and ``probabilities``
    [batch, words, tags]. On token ids: ``probabilities`` and ``tag_ids`` per subword.
    """

    name = "sequence_labeling"
    metrics = {"f1": metrics.entity_f1, "precision": metrics.entity_precision,
               "recall": metrics.entity_recall, "token_accuracy": metrics.token_accuracy}
    label_dtype = np.int16
    per_token = True
    unsupported = ("smart", "distillation")
    prediction_file_extension = "conll"

    # -- the task file -------------------------------------------------------
    def validate(self, task, fail):
        super().validate(task, fail)
        if task.is_pair:
            fail("input", "sequence labelling tags the words of one text: input: single")
        if len(task.labels) < 2:
            fail("labels", "a sequence labelling task needs at least two tags")
        if len(task.labels) > np.iinfo(self.label_dtype).max:
            fail("labels", f"at most {np.iinfo(self.label_dtype).max} tags")
        if any(m in ENTITY_METRICS for m in task.metrics):
            odd = [t for t in task.labels if t != "O" and not t[:2] in ("B-", "I-")]
            if odd or "O" not in task.labels:
                fail("labels", "entity metrics read IOB2 tags: 'O' and 'B-'/'I-' followed by a type"
                               + (f" (not {odd})" if odd else ""))
        if task.tfds is not None:
            fail("tfds", "sequence labelling reads files (format: conll or jsonl)")
        if task.files is not None and task.files.format == "tsv":
            fail("files.format", "sequence labelling reads a word a line (conll) or JSON lines of tokens and tags")
        if task.head.kind != "linear":
            fail("head.kind", "sequence labelling has a per-token linear head (kind: linear)")
        if task.smart.enabled:
            fail("smart.enabled", "SMART is not supported for sequence labelling")

    def num_outputs(self, task):
        return len(task.labels)

    # -- data ----------------------------------------------------------------
    def check_row(self, task, text_a, text_b, label):
        if not isinstance(text_a, list) or not text_a or not all(isinstance(w, str) and w for w in text_a):
            raise ValueError(f"the words are not a non-empty list of non-empty strings: {text_a!r}"[:200])
        if label is not None and len(label) != len(text_a):
            raise ValueError(f"{len(label)} tags for {len(text_a)} words")

    def parse_label(self, task, raw):
        if not isinstance(raw, list):
            raise ValueError(f"the tags are not a list: {raw!r}"[:200])
        index = {tag: i for i, tag in enumerate(task.labels)}
        for position, tag in enumerate(raw):
            if tag not in index:
                raise ValueError(f"tag {tag!r} (word {position + 1}) is not one of {list(task.labels)}")
        return np.asarray([index[tag] for tag in raw], self.label_dtype)

    def labels_array(self, task, labels):
        array = np.empty(len(labels), object)  # one tag array per sentence, of its own length
        array[:] = labels
        return array

    def pack_examples(self, task, packer, examples, description=None, chunk_size=2048):
        """Windows of whole words, each packed as one text; ``extras`` say where every word sits:
        ``word_index`` [units, width] (the word's index in its sentence at its first subword, else -1),
        ``unit_example`` [units] (the sentence) and ``loss_counts`` [units] (its words)."""
        sentences = examples.text_a
        bar = progress_bar(len(sentences), unit_name="text") if description and len(sentences) > chunk_size else None
        if bar is not None:
            print(description)
        parts, cut = [], {"sentences": 0, "pieces": 0, "windowed": 0, "longest": 0}
        for start in range(0, len(sentences), chunk_size):
            parts.append(_pack_windows(packer, sentences[start:start + chunk_size], start, cut))
            if bar is not None:
                bar.update(min(start + chunk_size, len(sentences)))
        sequences = PackedSequences.concatenate([p[0] for p in parts])
        word_index = _stack_padded([p[1] for p in parts])
        unit_example = np.concatenate([p[2] for p in parts]) if parts else np.zeros([0], np.int64)
        labels = None
        if examples.labels is not None:
            labels = np.full(word_index.shape, IGNORED, self.label_dtype)
            at = np.nonzero(word_index >= 0)
            labels[at] = [examples.labels[unit_example[u]][w] for u, w in zip(at[0], word_index[at])]
        truncation = {"examples": len(sentences), "truncated": cut["sentences"], "tokens_cut": cut["pieces"],
                      "longest": cut["longest"], "max_seq_length": int(packer.max_seq_length),
                      "windowed": cut["windowed"]}
        return PackedSplit(sequences, labels, examples.ids, dict(examples.skipped), examples.source,
                           truncation=truncation,
                           extras={"word_index": word_index, "unit_example": unit_example,
                                   "loss_counts": (word_index >= 0).sum(axis=1).astype(np.float32)})

    # -- model and training ----------------------------------------------------
    def per_example_loss(self, task, labels, outputs):
        """Token cross-entropy summed over each unit's labelled words (the global batch's labelled-word
        count divides it: ``loss_counts``)."""
        labels = _fit_labels(labels, tf.shape(outputs)[1])
        labelled = labels >= 0
        per_token = losses.cross_entropy(tf.maximum(labels, 0), outputs)
        return tf.reduce_sum(tf.where(labelled, per_token, 0.0), axis=-1)

    # -- evaluation ----------------------------------------------------------
    def join_outputs(self, task, parts, split):
        """The batches' logits padded to the split's longest unit: [units, width, tags]."""
        width = split.extras["word_index"].shape[1]
        return np.concatenate([np.pad(p[:, :width], [(0, 0), (0, width - min(p.shape[1], width)), (0, 0)])
                               for p in parts])

    def evaluate(self, task, outputs, split):
        predicted = self.sentence_tags(task, outputs, split)
        gold = _sentence_values(split.labels, split)
        gold = [[task.labels[i] for i in row] for row in gold]
        return self.compute_metrics(task, predicted, gold)

    def compute_metrics(self, task, outputs, labels):
        """Metric name -> value from predicted and gold tag sequences (lists of tag strings per sentence)."""
        return {name: self.metrics[name](outputs, labels) for name in task.metrics}

    def chance_level(self, task, labels):
        """Tagging every word 'O': no entity found (F1, precision, recall 0), token accuracy the share of
        'O' among the labelled words."""
        labels = np.asarray(labels)
        labelled = labels[labels >= 0]
        share = float(np.mean(labelled == task.labels.index("O"))) if "O" in task.labels and labelled.size else 0.0
        return {name: share if name == "token_accuracy" else 0.0 for name in task.metrics}

    def sentence_tags(self, task, outputs, split):
        """Each sentence's predicted tags (strings), in file order, from unit outputs [units, width, tags]."""
        return [[task.labels[i] for i in row] for row in _sentence_values(np.asarray(outputs).argmax(-1), split)]

    # -- serving ----------------------------------------------------------------
    def text_input_signature(self, task):
        return [tf.TensorSpec([None, None], tf.string, name="tokens")]

    def serve_text(self, task, forward, features_of, packer):
        tags = tf.constant(list(task.labels))

        def serve(tokens):
            tokens = tf.ensure_shape(tokens, [None, None])
            present = tf.not_equal(tokens, "")
            words = tf.ragged.boolean_mask(tokens, present)  # '' pads the shorter sentences
            features, positions = packer.pack_word_pieces(packer.word_pieces(words.flat_values),
                                                          words.row_lengths())
            logits = forward(trim_features(features))  # the bucket holds every packed token
            fits = positions < packer.word_capacity_end  # cut words (the sentence is longer) are not
            # Positions of the words in the [batch, words] grid ('' entries and cut words get none).
            dense = positions.to_tensor(default_value=-1, shape=tf.shape(tokens, out_type=tf.int64))
            fits = fits.to_tensor(default_value=False, shape=tf.shape(tokens, out_type=tf.int64))
            at = tf.cast(tf.where(fits, dense, 0), tf.int32)
            probabilities = tf.nn.softmax(tf.cast(tf.gather(logits, at, batch_dims=1), tf.float32), axis=-1)
            probabilities = tf.where(fits[..., None], probabilities, 0.0)
            tag_ids = tf.where(fits, tf.argmax(probabilities, axis=-1), -1)
            return {"tags": tf.where(fits, tf.gather(tags, tf.maximum(tag_ids, 0)), ""),
                    "tag_ids": tag_ids, "probabilities": probabilities}

        return serve

    def mask_padding(self, raw, features):
        """Per-subword outputs as long as the client's token ids (the signature ran them at a bucket length)."""
        length = tf.shape(features["token_ids"])[-1]
        raw = raw[:, :length]
        return tf.pad(raw, [[0, 0], [0, length - tf.shape(raw)[1]], [0, 0]])

    def serving_outputs(self, task, raw):
        probabilities = tf.nn.softmax(tf.cast(raw, tf.float32), axis=-1)
        return {"probabilities": probabilities, "tag_ids": tf.argmax(probabilities, axis=-1)}

    def tflite_outputs(self, task, raw):
        return {"probabilities": tf.nn.softmax(tf.cast(raw, tf.float32), axis=-1)}

    def prediction_strings(self, task, outputs, split):
        """Each sentence's tags, space-separated."""
        return [" ".join(row) for row in self.sentence_tags(task, outputs, split)]

    def write_predictions(self, task, path, examples, outputs, split):
        """A CoNLL file: ``word tag`` a line, a blank line after each sentence."""
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = []
        for words, tags in zip(examples.text_a, self.sentence_tags(task, outputs, split)):
            lines += [f"{w} {t}" for w, t in zip(words, tags)] + [""]
        path.write_text("\n".join(lines), encoding="utf-8")


def _fit_labels(labels, length):
    """Labels [k, width] cut or padded (with IGNORED) to ``length`` columns, int32."""
    labels = tf.cast(labels, tf.int32)[:, :length]
    return tf.pad(labels, [[0, 0], [0, length - tf.shape(labels)[1]]], constant_values=IGNORED)


def _sentence_values(values, split):
    """Per sentence, in file order, the values of ``values`` [units, width] at its words' positions,
    in word order."""
    word_index, unit_example = split.extras["word_index"], split.extras["unit_example"]
    units, columns = np.nonzero(word_index >= 0)
    example, word = unit_example[units], word_index[units, columns]
    order = np.lexsort((word, example))
    picked = np.asarray(values)[units, columns][order]
    counts = np.bincount(example, minlength=len(split.ids))
    return [row.tolist() for row in np.split(picked, np.cumsum(counts)[:-1])]


def _stack_padded(matrices):
    """[n_i, width_i] int matrices stacked, padded with -1 to the widest."""
    width = max((m.shape[1] for m in matrices), default=1)
    return np.concatenate([np.pad(m, [(0, 0), (0, width - m.shape[1])], constant_values=IGNORED)
                           for m in matrices]) if matrices else np.full([0, width], IGNORED, np.int32)


def _pack_windows(packer, sentences, first_example, cut):
    """Packs a chunk of sentences as windows of whole words. Returns (PackedSequences, word_index
    [units, width], unit_example [units]) and counts what was cut or windowed into ``cut``."""
    flat = [word for words in sentences for word in words]
    pieces = packer.word_pieces(tf.constant(flat, tf.string)) if flat else None
    lengths = pieces.row_lengths().numpy() if flat else np.zeros([0], np.int64)
    values = pieces.values.numpy() if flat else np.zeros([0], np.int32)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    capacity = packer.word_capacity
    kept_pieces, window_words, unit_example, word_in_sentence = [], [], [], []
    word = 0
    for sentence, words in enumerate(sentences):
        cut["longest"] = max(cut["longest"], int(lengths[word:word + len(words)].sum()) + packer.max_seq_length
                             - capacity)
        windows, used, over = 0, capacity + 1, 0
        for position in range(len(words)):
            count = int(lengths[word])
            kept = min(count, capacity)
            over += count - kept
            if used + kept > capacity:  # a new window
                window_words.append(0)
                unit_example.append(first_example + sentence)
                windows, used = windows + 1, 0
            window_words[-1] += 1
            used += kept
            kept_pieces.append(values[starts[word]:starts[word] + kept])
            word_in_sentence.append(position)
            word += 1
        cut["windowed"] += windows > 1
        cut["sentences"] += over > 0
        cut["pieces"] += over
    kept_lengths = [len(p) for p in kept_pieces]
    ragged = tf.RaggedTensor.from_row_lengths(
        np.concatenate(kept_pieces).astype(np.int32) if kept_pieces else np.zeros([0], np.int32),
        np.asarray(kept_lengths, np.int64))
    features, positions = packer.pack_word_pieces(ragged, np.asarray(window_words, np.int64))
    features = {k: v.numpy() for k, v in features.items()}
    positions = positions.flat_values.numpy()
    if len(positions) and positions.max() >= packer.word_capacity_end:  # windows fit by construction
        raise AssertionError("a window's word does not fit its packed sequence")
    width = int(features["padding_mask"].sum(axis=1).max()) if len(window_words) else 1
    word_index = np.full([len(window_words), width], IGNORED, np.int32)
    rows = np.repeat(np.arange(len(window_words)), window_words)
    word_index[rows, positions] = word_in_sentence
    sequences = PackedSequences.from_padded(features, packer.tokenizer.vocabulary_size(),
                                            packer.tokenizer.pad_token_id)
    return sequences, word_index, np.asarray(unit_example, np.int64)
