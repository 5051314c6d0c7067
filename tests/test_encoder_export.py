"""The trained MiniLM encoder shared as a keras-hub preset and as a Hugging Face checkpoint, each loaded
back (through keras-hub's own loaders) to the same hidden states on real GLUE sentences."""

import json

import numpy as np
import pytest
from conftest import GLUE_DIR, MINILM_DIR, needs_glue, needs_minilm

from mtdnn_tf.errors import UserInputError


@pytest.fixture(scope="module")
def minilm_run(tmp_path_factory):
    """A short MiniLM RTE run (32 examples, one epoch): its encoder differs from the preset's."""
    from mtdnn_tf.experiment import RunSettings, run
    from mtdnn_tf.training.train_config import TrainConfig

    model_dir = tmp_path_factory.mktemp("minilm_rte")
    run(RunSettings(tasks=["rte"], model_dir=str(model_dir), data_dir=str(GLUE_DIR), preset=str(MINILM_DIR),
                    max_seq_length=64, head_input="mean",
                    train=TrainConfig(epochs=1, batch_size=16, max_examples_per_task=32, verbose=0)),
        verbose=False)
    return model_dir


def _sentences():
    lines = (GLUE_DIR / "RTE" / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:5]
    return [line.split("\t")[1] for line in lines], [line.split("\t")[2] for line in lines]


def _hidden_states(backbone, tokenizer):
    from mtdnn_tf.data.packing import TextPacker
    from mtdnn_tf.models.encoders import encode

    features = TextPacker(tokenizer, 64).pack(*_sentences())
    sequence, pooled = encode(backbone, features)
    return np.asarray(sequence), np.asarray(pooled), features["padding_mask"].astype(bool)


@needs_glue
@needs_minilm
@pytest.mark.slow
def test_the_trained_encoder_round_trips_as_a_keras_hub_preset_and_a_hugging_face_checkpoint(minilm_run, tmp_path):
    import keras_hub

    from mtdnn_tf.models.backbone import load_backbone, load_tokenizer
    from mtdnn_tf.models.encoder_dtype import with_encoder_dtype
    from mtdnn_tf.models.init_from import source_backbone
    from mtdnn_tf.run_directory import load_trained_model
    from mtdnn_tf.serving.encoder_export import (
        export_hugging_face,
        export_keras_hub_preset,
    )

    trained = load_trained_model(minilm_run)
    # The exports compute in float32, also where the run trained in mixed_bfloat16 (auto's choice on some CPUs).
    float32 = with_encoder_dtype(trained.model, trained.tasks, trained.head_input, "float32")
    ours = _hidden_states(source_backbone(float32), trained.tokenizer)
    preset = _hidden_states(load_backbone(str(MINILM_DIR)), load_tokenizer(str(MINILM_DIR)))
    assert np.abs(ours[0] - preset[0]).max() > 1e-3  # trained: not the preset's encoder any more

    keras_dir = export_keras_hub_preset(trained, tmp_path / "keras_preset")
    backbone = keras_hub.models.Backbone.from_preset(str(keras_dir))
    tokenizer = keras_hub.models.Tokenizer.from_preset(str(keras_dir))
    np.testing.assert_allclose(_hidden_states(backbone, tokenizer)[0], ours[0], atol=1e-5)
    classifier = keras_hub.models.TextClassifier.from_preset(str(keras_dir), num_classes=2)
    assert classifier.backbone.count_params() == backbone.count_params()
    assert (keras_dir / "mtdnn" / "model.keras").is_file() and (keras_dir / "mtdnn" / "tasks" / "rte.yaml").is_file()

    hf_dir = export_hugging_face(trained, tmp_path / "hf")
    config = json.loads((hf_dir / "config.json").read_text())
    assert config["model_type"] == "bert" and config["hidden_size"] == 384 and config["num_hidden_layers"] == 6
    # Loaded back by keras-hub's Hugging Face converter (and by this library's --preset).
    again = _hidden_states(load_backbone(str(hf_dir)), load_tokenizer(str(hf_dir)))
    mask = ours[2]
    np.testing.assert_allclose(again[0][mask], ours[0][mask], atol=1e-5)
    np.testing.assert_allclose(again[1], ours[1], atol=1e-5)  # the pooler too
    assert load_tokenizer(str(hf_dir))("Café") == trained.tokenizer("cafe")  # the run's normalisation travels

    with pytest.raises(UserInputError, match=r"^--export_dir: .* already exists \(choose a new version, or --overwrite\)$"):
        export_hugging_face(trained, hf_dir)
