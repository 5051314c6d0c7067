"""Tiny random encoders of every keras-hub family with tiny vocabularies built here (as keras-hub's own
tests build theirs): WordPiece lists, a byte-pair vocabulary, SentencePiece models trained in-process."""

import io

import keras_hub
import sentencepiece

from mtdnn_tf.models.encoders import FAMILIES

SIZES = dict(num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64, max_sequence_length=64)


def demo_texts(demo_dir):
    """Every text of the demo suite's files (their first columns but the label)."""
    texts = []
    for path in sorted(demo_dir.glob("*/*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            texts += [field for field in line.split("\t") if any(c.isalpha() for c in field)]
    return texts


def _sentencepiece(texts, **pieces):
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=model, vocab_size=120,
                                             hard_vocab_limit=False, minloglevel=2,
                                             model_type="WORD", **pieces)
    return model.getvalue()


def _byte_pair(texts):
    """A RoBERTa vocabulary: specials, every byte-level character of the texts, with and without the
    leading-space marker, and one merge per character pair of each word (enough for whole words)."""
    from keras_hub.src.tokenizers.byte_pair_tokenizer import bytes_to_unicode

    unicode_of = dict(zip(*bytes_to_unicode()))  # one byte -> its printable character
    words = {w for text in texts for w in text.split()}
    vocabulary = {"<s>": 0, "<pad>": 1, "</s>": 2, "<mask>": 3, "<unk>": 4}
    merges = []
    for word in sorted(words):
        pieces = [unicode_of[bytes([b])] for b in (" " + word).encode("utf-8")]  # ' ' is 'Ġ'
        for piece in pieces:
            vocabulary.setdefault(piece, len(vocabulary))
        merged = pieces[0]
        for piece in pieces[1:]:
            if f"{merged} {piece}" not in merges:
                merges.append(f"{merged} {piece}")
            merged += piece
            vocabulary.setdefault(merged, len(vocabulary))
    return vocabulary, merges


def tokenizer_of(family, demo_dir, texts=None):
    """A tiny tokenizer of ``family`` covering the demo suite's words (or, for the byte-pair and
    SentencePiece families, those of ``texts``)."""
    m = keras_hub.models
    texts = texts or demo_texts(demo_dir)
    wordpiece = (demo_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    if family in ("bert", "distil_bert", "electra"):
        cls = {"bert": m.BertTokenizer, "distil_bert": m.DistilBertTokenizer, "electra": m.ElectraTokenizer}[family]
        return cls(vocabulary=wordpiece, lowercase=True)
    if family == "roberta":
        vocabulary, merges = _byte_pair(texts)
        return m.RobertaTokenizer(vocabulary=vocabulary, merges=merges)
    if family == "albert":
        return m.AlbertTokenizer(proto=_sentencepiece(
            texts, pad_id=0, unk_id=1, bos_id=2, eos_id=3, pad_piece="<pad>", unk_piece="<unk>",
            bos_piece="[CLS]", eos_piece="[SEP]", user_defined_symbols="[MASK]"))
    if family == "deberta_v3":
        return m.DebertaV3Tokenizer(proto=_sentencepiece(
            texts, pad_id=0, bos_id=1, eos_id=2, unk_id=3, pad_piece="[PAD]", bos_piece="[CLS]",
            eos_piece="[SEP]", unk_piece="[UNK]", user_defined_symbols="[MASK]"))
    if family == "xlm_roberta":
        return m.XLMRobertaTokenizer(proto=_sentencepiece(texts, unk_id=0, bos_id=1, eos_id=2))
    raise ValueError(f"unknown family {family!r} (known: {', '.join(FAMILIES)})")


def backbone_of(family, vocabulary_size, seed=0):
    """A one-layer random backbone of ``family``."""
    import keras

    keras.utils.set_random_seed(seed)
    m = keras_hub.models
    if family == "electra":
        return m.ElectraBackbone(vocab_size=vocabulary_size, embedding_dim=32, **SIZES)
    if family == "albert":
        return m.AlbertBackbone(vocabulary_size=vocabulary_size, embedding_dim=16, num_groups=1,
                                num_inner_repetitions=1, **SIZES)
    cls = {"bert": m.BertBackbone, "distil_bert": m.DistilBertBackbone, "roberta": m.RobertaBackbone,
           "deberta_v3": m.DebertaV3Backbone, "xlm_roberta": m.XLMRobertaBackbone}[family]
    return cls(vocabulary_size=vocabulary_size, **SIZES)
