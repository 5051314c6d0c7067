"""The tokenizer files written beside an export on token ids, for clients that tokenise themselves."""

import json
import pathlib

from mtdnn_tf.models.backbone import tokenizer_options
from mtdnn_tf.models.encoders import packer_for, packing_description

TOKENIZER_SETTINGS_FILE = "tokenizer.json"


def write_tokenizer_files(tokenizer, max_seq_length, directory):
    """Writes the tokenizer's own files into ``directory`` (keras-hub's ``save_assets``: ``vocabulary.txt``
    for WordPiece, ``vocabulary.json`` and ``merges.txt`` for byte-pair, ``vocabulary.spm`` for
    SentencePiece) and ``tokenizer.json``: its settings, the packed length and how to pack. Returns the
    packing description."""
    directory = pathlib.Path(directory)
    tokenizer.save_assets(str(directory))
    packing = packing_description(tokenizer, packer_for(tokenizer, max_seq_length))
    settings = {**tokenizer_options(tokenizer), "max_seq_length": max_seq_length, "packing": packing}
    (directory / TOKENIZER_SETTINGS_FILE).write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")
    return packing
