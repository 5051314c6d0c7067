"""The trained shared encoder shared as a keras-hub preset or a Hugging Face checkpoint.

``export_keras_hub_preset`` writes the encoder and its tokenizer with keras-hub's
``save_to_preset``, so ``keras_hub.models.Backbone.from_preset(dir)``,
``keras_hub.models.TextClassifier.from_preset(dir, num_classes=...)`` and
``--preset=dir`` all load it; the task heads go beside it under ``mtdnn/`` (the
whole multi-task ``model.keras`` and the task files).

``export_hugging_face`` writes a BERT encoder as a Hugging Face ``BertModel``
directory (``config.json``, ``model.safetensors``, ``vocab.txt``,
``tokenizer_config.json``). keras-hub reads that format but does not write it, so
the weight mapping here is the inverse of keras-hub's own converter
(``keras_hub/src/utils/transformers/convert_bert.py``), tested by loading the
directory back through that converter.
"""

import json
import pathlib
import shutil

import numpy as np

from mtdnn_tf.atomic_files import atomic_directory, write_text_atomically
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.models.encoder_dtype import with_encoder_dtype
from mtdnn_tf.models.encoders import family_name
from mtdnn_tf.models.init_from import source_backbone

HEADS_DIR = "mtdnn"


def export_keras_hub_preset(trained, export_dir, overwrite=False):
    """Writes ``trained``'s encoder and tokenizer as a keras-hub preset directory, and its task heads (the
    multi-task ``model.keras`` and task files) under ``<export_dir>/mtdnn/``. The preset's encoder computes in
    float32 (whoever loads it picks a dtype policy), also where the run trained in mixed_bfloat16."""
    float32 = with_encoder_dtype(trained.model, trained.tasks, trained.head_input, "float32")
    with atomic_directory(export_dir, overwrite=overwrite) as tmp:
        source_backbone(float32).save_to_preset(str(tmp))
        trained.tokenizer.save_to_preset(str(tmp))
        heads = tmp / HEADS_DIR
        heads.mkdir()
        shutil.copyfile(pathlib.Path(trained.model_dir) / "model.keras", heads / "model.keras")
        shutil.copytree(pathlib.Path(trained.model_dir) / "tasks", heads / "tasks")
        for name in ("run_settings.json", "tokenizer.json"):
            if (pathlib.Path(trained.model_dir) / name).is_file():
                shutil.copyfile(pathlib.Path(trained.model_dir) / name, heads / name)
    return pathlib.Path(export_dir)


def bert_to_hugging_face(backbone):
    """The Hugging Face ``BertModel`` tensors of a keras-hub ``BertBackbone``: {name: float32 array}.

    The inverse of keras-hub's ``convert_bert.convert_weights``: Hugging Face keeps a dense layer's
    weight as [out, in] (the Keras kernel transposed) and attention projections unsplit by head.
    """
    def linear(kernel, inputs):  # a Keras kernel [in, ...] or [..., out] as Hugging Face's [out, in]
        return np.transpose(np.reshape(kernel, [inputs, -1]))

    hidden = backbone.hidden_dim
    tensors = {
        "embeddings.word_embeddings.weight": backbone.get_layer("token_embedding").embeddings,
        "embeddings.position_embeddings.weight": backbone.get_layer("position_embedding").position_embeddings,
        "embeddings.token_type_embeddings.weight": backbone.get_layer("segment_embedding").embeddings,
        "embeddings.LayerNorm.weight": backbone.get_layer("embeddings_layer_norm").gamma,
        "embeddings.LayerNorm.bias": backbone.get_layer("embeddings_layer_norm").beta,
    }
    tensors = {k: np.asarray(v) for k, v in tensors.items()}
    for i in range(backbone.num_layers):
        block = backbone.get_layer(f"transformer_layer_{i}")
        attention, prefix = block._self_attention_layer, f"encoder.layer.{i}."
        for name in ("query", "key", "value"):
            dense = getattr(attention, f"{name}_dense")
            tensors[f"{prefix}attention.self.{name}.weight"] = linear(np.asarray(dense.kernel), hidden)
            tensors[f"{prefix}attention.self.{name}.bias"] = np.reshape(np.asarray(dense.bias), [-1])
        output = attention.output_dense
        tensors[f"{prefix}attention.output.dense.weight"] = linear(np.asarray(output.kernel), hidden)
        tensors[f"{prefix}attention.output.dense.bias"] = np.asarray(output.bias)
        for keras_name, hf_name in (("_self_attention_layer_norm", "attention.output.LayerNorm"),
                                    ("_feedforward_layer_norm", "output.LayerNorm")):
            norm = getattr(block, keras_name)
            tensors[f"{prefix}{hf_name}.weight"] = np.asarray(norm.gamma)
            tensors[f"{prefix}{hf_name}.bias"] = np.asarray(norm.beta)
        for keras_name, hf_name in (("_feedforward_intermediate_dense", "intermediate.dense"),
                                    ("_feedforward_output_dense", "output.dense")):
            dense = getattr(block, keras_name)
            tensors[f"{prefix}{hf_name}.weight"] = np.transpose(np.asarray(dense.kernel))
            tensors[f"{prefix}{hf_name}.bias"] = np.asarray(dense.bias)
    pooler = backbone.get_layer("pooled_dense")
    tensors["pooler.dense.weight"] = np.transpose(np.asarray(pooler.kernel))
    tensors["pooler.dense.bias"] = np.asarray(pooler.bias)
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}


def export_hugging_face(trained, export_dir, overwrite=False):
    """Writes ``trained``'s BERT encoder as a Hugging Face ``BertModel`` directory, with the tokenizer
    settings the run used."""
    from safetensors.numpy import save_file  # noqa: PLC0415 - only this export needs it

    backbone = source_backbone(trained.model)
    family = family_name(backbone)
    if family != "bert":
        raise UserInputError(f"--format=hugging_face: writes BERT encoders; this run's encoder is {family}"
                             " (use --format=keras_hub_preset)")
    with atomic_directory(export_dir, overwrite=overwrite) as tmp:
        save_file(bert_to_hugging_face(backbone), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        config = {
            "architectures": ["BertModel"], "model_type": "bert",
            "vocab_size": backbone.vocabulary_size, "hidden_size": backbone.hidden_dim,
            "num_hidden_layers": backbone.num_layers, "num_attention_heads": backbone.num_heads,
            "intermediate_size": backbone.intermediate_dim, "max_position_embeddings": backbone.max_sequence_length,
            "type_vocab_size": backbone.num_segments, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
            "hidden_dropout_prob": backbone.dropout, "attention_probs_dropout_prob": backbone.dropout,
            "pad_token_id": trained.tokenizer.pad_token_id, "position_embedding_type": "absolute",
        }
        write_text_atomically(tmp / "config.json", json.dumps(config, indent=2) + "\n")
        tokenizer = trained.tokenizer
        (tmp / "vocab.txt").write_text("\n".join(tokenizer.get_vocabulary()) + "\n", encoding="utf-8")
        tokenizer_config = {
            "tokenizer_class": "BertTokenizer", "do_lower_case": bool(tokenizer.lowercase),
            "strip_accents": bool(tokenizer.strip_accents), "tokenize_chinese_chars": bool(tokenizer.split_on_cjk),
            "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
            "mask_token": "[MASK]", "model_max_length": backbone.max_sequence_length,
        }
        write_text_atomically(tmp / "tokenizer_config.json", json.dumps(tokenizer_config, indent=2) + "\n")
    return pathlib.Path(export_dir)
