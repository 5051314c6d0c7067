"""The shared encoder and its tokenizer, always through keras-hub.

Weights come in one way, ``from_preset``: a keras-hub preset name (downloads,
needs network), a local Keras preset directory, or a local Hugging Face-format
directory that keras-hub converts (``config.json``, ``model.safetensors`` and the
tokenizer's files). The encoder family (BERT, RoBERTa, DeBERTa-v3, ELECTRA,
ALBERT, DistilBERT, XLM-RoBERTa) is the preset's: keras-hub's
``Backbone.from_preset`` and ``Tokenizer.from_preset`` pick the classes (see
``models.encoders`` for what differs between families). For tests and the demo
a small randomly initialised BERT backbone can be built from a named size or
explicit sizes instead.
"""

import hashlib
import json
import pathlib
import sys

import keras_hub

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.models.encoders import family_name

RANDOM_SIZES = {
    "tiny": dict(num_layers=2, hidden_dim=64, num_heads=2, intermediate_dim=128),
    "small": dict(num_layers=4, hidden_dim=256, num_heads=4, intermediate_dim=1024),
}


def _looks_like_path(preset):
    return "/" in preset or preset.startswith(".") or pathlib.Path(preset).exists()


def _check_preset(preset):
    if _looks_like_path(preset) and not pathlib.Path(preset).is_dir():
        raise UserInputError(f"--preset: {preset} is not a directory")


OPTIONAL_SIZES = ("max_sequence_length",)


def parse_random_size(spec):
    """'tiny', 'small' or 'num_layers=2,hidden_dim=64,num_heads=2,intermediate_dim=128'
    (optionally with ',max_sequence_length=N'; default 512)."""
    if spec in RANDOM_SIZES:
        return dict(RANDOM_SIZES[spec])
    sizes = {}
    for item in spec.split(","):
        key, _, value = item.partition("=")
        if (key not in RANDOM_SIZES["tiny"] and key not in OPTIONAL_SIZES) or not value.isdigit() or int(value) <= 0:
            raise UserInputError(
                f"--random_backbone: cannot read {item!r}; give a size ({', '.join(RANDOM_SIZES)})"
                " or num_layers=..,hidden_dim=..,num_heads=..,intermediate_dim=.."
            )
        sizes[key] = int(value)
    missing = set(RANDOM_SIZES["tiny"]) - set(sizes)
    if missing:
        raise UserInputError(f"--random_backbone: missing {', '.join(sorted(missing))}")
    if sizes["hidden_dim"] % sizes["num_heads"]:
        raise UserInputError("--random_backbone: hidden_dim must be divisible by num_heads")
    return sizes


HF_TOKENIZER_CONFIG = "tokenizer_config.json"


def hugging_face_tokenizer_options(preset):
    """The text normalisation a Hugging Face-format directory's tokenizer declares.

    Follows the Hugging Face ``BertTokenizer`` convention (which the official
    MT-DNN uses too): ``strip_accents: null`` means "strip accents when
    lowercasing", and ``tokenize_chinese_chars`` splits CJK characters. Returns
    keras-hub ``WordPieceTokenizer`` arguments, or None for a directory without
    ``tokenizer_config.json`` (a keras-hub preset keeps its own settings).
    """
    path = pathlib.Path(preset) / HF_TOKENIZER_CONFIG
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UserInputError(f"{path}: cannot read the tokenizer settings ({e})") from None
    lowercase = bool(config.get("do_lower_case", True))
    strip_accents = config.get("strip_accents")
    return {
        "lowercase": lowercase,
        "strip_accents": lowercase if strip_accents is None else bool(strip_accents),
        "split_on_cjk": bool(config.get("tokenize_chinese_chars", True)),
    }


def tokenizer_options(tokenizer):
    """The settings that decide how a tokenizer maps text to ids (for cache keys and checks), beside
    its vocabulary: WordPiece's text normalisation; for other families, the family and the
    tokenizer's keras-hub settings."""
    if isinstance(tokenizer, keras_hub.tokenizers.WordPieceTokenizer) and family_name(tokenizer) == "bert":
        return {
            "lowercase": bool(tokenizer.lowercase),
            "strip_accents": bool(tokenizer.strip_accents),
            "split_on_cjk": bool(tokenizer.split_on_cjk),
        }
    assets = ("name", "trainable", "dtype", "config_file", "vocabulary", "merges", "proto")
    settings = {k: v for k, v in sorted(tokenizer.get_config().items()) if k not in assets}
    return {"family": family_name(tokenizer), **{k: v for k, v in settings.items() if _plain(v)}}


def tokenizer_assets_digest(tokenizer):
    """A digest of the tokenizer's vocabulary in id order (with a byte-pair tokenizer's merges)."""
    digest = hashlib.sha256()
    vocabulary = getattr(tokenizer, "vocabulary", None)
    if isinstance(vocabulary, dict):  # byte-pair: token -> id, not necessarily in id order
        digest.update(json.dumps(sorted(vocabulary.items(), key=lambda item: item[1])).encode("utf-8"))
        digest.update(json.dumps(list(getattr(tokenizer, "merges", None) or [])).encode("utf-8"))
    else:
        digest.update("\n".join(tokenizer.get_vocabulary()).encode("utf-8"))
    return digest.hexdigest()


def tokenizer_identity(tokenizer):
    """What decides the ids a tokenizer gives a text, in one dict: its settings (``tokenizer_options``,
    the family included for families other than BERT) and a digest of its vocabulary (``assets``). Equal
    identities read text the same way: the token cache key, ``--init_from`` and ``--teachers`` use it."""
    return {**tokenizer_options(tokenizer), "assets": tokenizer_assets_digest(tokenizer)}


def check_same_tokenizer(theirs, ours, where, ours_name):
    """Refuses, with one line, a trained model whose tokenizer ``theirs`` reads text other than ``ours``
    does: another family, vocabulary or settings (``tokenizer_identity``). ``where`` starts the message
    (the flag and the model's directory); ``ours_name`` names what ``ours`` came from."""
    if family_name(theirs) != family_name(ours):
        raise UserInputError(f"{where} was trained with a {family_name(theirs)} encoder, {ours_name} is"
                             f" {family_name(ours)}")
    mine, other = tokenizer_identity(ours), tokenizer_identity(theirs)
    if mine.pop("assets") != other.pop("assets"):
        raise UserInputError(f"{where} was trained with another vocabulary ({theirs.vocabulary_size()} tokens) than"
                             f" {ours_name} ({ours.vocabulary_size()} tokens)")
    if mine != other:
        differ = ", ".join(f"{k}={other.get(k)} (here {mine.get(k)})" for k in sorted(set(mine) | set(other))
                           if mine.get(k) != other.get(k))
        raise UserInputError(f"{where} was tokenised with other settings: {differ}")


def _warn_unapplied_lowercasing(preset, tokenizer, options):
    """Hugging Face's ALBERT tokenizer lowercases and strips accents before SentencePiece when
    ``do_lower_case`` (its default); keras-hub's ``AlbertTokenizer`` has no such setting, so say so."""
    config = json.loads((pathlib.Path(preset) / HF_TOKENIZER_CONFIG).read_text(encoding="utf-8"))
    if family_name(tokenizer) == "albert" and config.get("do_lower_case", True):
        print(f"warning: {pathlib.Path(preset) / HF_TOKENIZER_CONFIG}: do_lower_case is not applied by keras-hub's "
              "AlbertTokenizer; lowercase and strip accents from the text before training and serving, or "
              "cased text gets other ids than in Hugging Face", file=sys.stderr)


def _plain(value):
    return value is None or isinstance(value, (bool, int, float, str, list, tuple))


def load_tokenizer(preset=None, vocab_file=None, lowercase=True):
    """A keras-hub tokenizer from a preset (of the preset's family), or a ``BertTokenizer`` from a
    WordPiece vocabulary file.

    A Hugging Face-format directory's ``tokenizer_config.json`` decides
    lowercasing, accent stripping and CJK splitting (see
    ``hugging_face_tokenizer_options``); a keras-hub preset keeps its own. A
    bare vocabulary file is uncased when ``lowercase`` (lowercased and
    accent-stripped, as BERT's uncased vocabularies expect) and cased otherwise.

    Example:

    ```python
    tokenizer = load_tokenizer("../shared/pretrained/all-MiniLM-L6-v2")
    tokenizer("Café") == tokenizer("cafe")  # accents stripped, as its config says
    ```
    """
    if preset:
        _check_preset(preset)
        options = hugging_face_tokenizer_options(preset) if pathlib.Path(preset).is_dir() else None
        try:
            tokenizer = keras_hub.models.Tokenizer.from_preset(preset)  # the preset's family
            if options is None:
                return tokenizer
            if not isinstance(tokenizer, keras_hub.tokenizers.WordPieceTokenizer):
                _warn_unapplied_lowercasing(preset, tokenizer, options)
                return tokenizer
            # keras-hub's converters (BERT, DistilBERT) set `lowercase` from the same file; the rest they
            # leave at defaults.
            tokenizer = type(tokenizer).from_preset(
                preset, strip_accents=options["strip_accents"], split_on_cjk=options["split_on_cjk"])
        except Exception as e:  # keras-hub raises several types for missing or unreachable presets
            raise UserInputError(f"--preset: cannot load a tokenizer from {preset!r}: {e}") from None
        if tokenizer.lowercase != options["lowercase"]:
            raise UserInputError(f"--preset: {preset}: keras-hub did not apply do_lower_case="
                                 f"{options['lowercase']} from {HF_TOKENIZER_CONFIG}")
        return tokenizer
    if not vocab_file:
        raise UserInputError("give --preset, or --vocab_file for a randomly initialised backbone")
    path = pathlib.Path(vocab_file)
    if not path.is_file():
        raise UserInputError(f"--vocab_file: {vocab_file} does not exist")
    vocabulary = path.read_text(encoding="utf-8").splitlines()
    missing = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]") if t not in vocabulary]
    if missing:
        raise UserInputError(f"{vocab_file}: vocabulary lacks special tokens {missing}")
    return keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=lowercase, strip_accents=lowercase)


def load_backbone(preset=None, random_size=None, vocabulary_size=None, max_sequence_length=512, dropout=0.1,
                  dtype=None):
    """A keras-hub backbone: pretrained from ``preset`` (of the preset's family), or a random
    ``BertBackbone`` of ``random_size``.

    ``dtype`` is a Keras dtype policy name, e.g. 'mixed_bfloat16' (variables
    stay float32, computation runs in bfloat16); None keeps the global policy.
    """
    if preset:
        _check_preset(preset)
        try:
            return keras_hub.models.Backbone.from_preset(preset, dtype=dtype)
        except Exception as e:
            raise UserInputError(f"--preset: cannot load a backbone from {preset!r}: {e}") from None
    sizes = parse_random_size(random_size or "tiny")
    max_sequence_length = sizes.pop("max_sequence_length", max_sequence_length)
    return keras_hub.models.BertBackbone(
        vocabulary_size=vocabulary_size,
        max_sequence_length=max_sequence_length,
        dropout=dropout,
        dtype=dtype,
        **sizes,
    )
