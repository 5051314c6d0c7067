"""run_directory: a finished run's files are written so that load_trained_model gives back the same run."""

import json

import numpy as np
import pytest
from conftest import tiny_backbone

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.models.mtdnn_model import build_mtdnn_model
from mtdnn_tf.run_directory import (
    MODEL_FILE,
    SETTINGS_FILE,
    TOKENIZER_FILE,
    load_trained_model,
    save_run,
)


def _inputs():
    mask = np.ones((2, 6), "int32")
    return {"token_ids": np.full((2, 6), 7, "int32"), "segment_ids": np.zeros((2, 6), "int32"), "padding_mask": mask}


@pytest.mark.slow
def test_a_saved_run_loads_back_with_its_model_tokenizer_tasks_and_settings(demo_tasks, demo_tokenizer, tmp_path):
    model = build_mtdnn_model(tiny_backbone(demo_tokenizer.vocabulary_size()), demo_tasks)
    settings = {"tasks": list(demo_tasks), "max_seq_length": 24, "head_overrides": {"demo_pair": "linear"}}
    save_run(model, demo_tokenizer, demo_tasks, settings, tmp_path)
    assert not list(tmp_path.glob("*.tmp*"))  # model.keras was renamed into place
    run = load_trained_model(tmp_path)
    assert list(run.tasks) == list(demo_tasks) and run.max_seq_length == 24
    assert run.tasks["demo_pair"].head.kind == "linear"  # the recorded override applies on load
    assert json.loads((tmp_path / SETTINGS_FILE).read_text()) == settings
    assert np.asarray(run.tokenizer.tokenize("a b")).tolist() == np.asarray(demo_tokenizer.tokenize("a b")).tolist()
    for name, value in model(_inputs()).items():
        np.testing.assert_allclose(run.model(_inputs())[name], value, atol=1e-6)
    assert run.packer().max_seq_length == 24 and run.packer(8).max_seq_length == 8


@pytest.mark.parametrize("missing", [MODEL_FILE, TOKENIZER_FILE, SETTINGS_FILE])
def test_a_directory_missing_a_run_file_is_one_error_naming_the_flag(tmp_path, missing):
    for name in (MODEL_FILE, TOKENIZER_FILE, SETTINGS_FILE):
        if name != missing:
            (tmp_path / name).write_text("{}")
    with pytest.raises(UserInputError, match=rf"^--init_from: {tmp_path} lacks {missing}; is it the model_dir"):
        load_trained_model(tmp_path, flag="--init_from")


def test_a_damaged_model_file_is_one_error_naming_it(tmp_path):
    (tmp_path / MODEL_FILE).write_bytes(b"not a zip")
    (tmp_path / TOKENIZER_FILE).write_text("{}")
    (tmp_path / SETTINGS_FILE).write_text('{"tasks": []}')
    with pytest.raises(UserInputError, match=rf"^{tmp_path / MODEL_FILE}: cannot load"):
        load_trained_model(tmp_path)
