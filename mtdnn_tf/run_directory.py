"""The run directory: what a finished training run leaves for predict, export and ``--init_from``.

Written by ``save_run`` at the end of ``mtdnn_tf.experiment.run`` and read by
``load_trained_model``; this module is the one place that knows its layout:

- ``model.keras``: the multi-task model (written last: its presence means the run is complete);
- ``vocabulary.txt`` and ``tokenizer.json``: the tokenizer (keras-hub config);
- ``tasks/<name>.yaml``: each task's definition as trained;
- ``run_settings.json``: the run's settings (``head_overrides`` changes head kinds);
- ``metrics.json``, ``checkpoints/``, ``tensorboard/``: written while training
  (see ``mtdnn_tf.training.run_record`` and ``mtdnn_tf.training.checkpoints``).
"""

import dataclasses
import json
import pathlib
import shutil

import keras

from mtdnn_tf.atomic_files import atomic_file, write_text_atomically
from mtdnn_tf.data.packing import TextPacker
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.tasks import load_task_file, with_head_kind

MODEL_FILE = "model.keras"
TOKENIZER_FILE = "tokenizer.json"
VOCABULARY_FILE = "vocabulary.txt"  # a WordPiece tokenizer's asset
SETTINGS_FILE = "run_settings.json"
TASKS_DIR = "tasks"


@dataclasses.dataclass
class TrainedModel:
    """A trained multi-task model with its tokenizer and task definitions.

    Attributes:
        model_dir: the run directory it was loaded from.
        model: the functional Keras model (one output per task).
        tokenizer: the keras-hub tokenizer it was trained with.
        tasks: ordered mapping name -> TaskConfig, as trained.
        settings: the run's settings (dict from run_settings.json).
    """

    model_dir: str
    model: keras.Model
    tokenizer: object
    tasks: dict
    settings: dict

    @property
    def max_seq_length(self):
        return self.settings["max_seq_length"]

    @property
    def head_input(self):
        return self.settings.get("head_input", "cls")  # runs saved before the setting existed read [CLS]

    def packer(self, max_seq_length=None):
        return TextPacker(self.tokenizer, max_seq_length or self.max_seq_length)


def save_run(model, tokenizer, tasks, settings, model_dir):
    """Writes the trained model, its tokenizer, task files and ``settings`` (a dict).

    ``model.keras`` is written last, under a temporary name renamed into place.
    """
    model_dir = pathlib.Path(model_dir)
    tokenizer.save_assets(str(model_dir))  # vocabulary.txt
    tokenizer_config = keras.saving.serialize_keras_object(tokenizer)
    write_text_atomically(model_dir / TOKENIZER_FILE, json.dumps(tokenizer_config, indent=2) + "\n")
    (model_dir / TASKS_DIR).mkdir(exist_ok=True)
    for name, task in tasks.items():
        shutil.copyfile(task.path, model_dir / TASKS_DIR / f"{name}.yaml")
    write_text_atomically(model_dir / SETTINGS_FILE, json.dumps(settings, indent=2) + "\n")
    with atomic_file(model_dir / MODEL_FILE) as tmp:
        model.save(tmp)


def load_trained_model(model_dir, flag="--model_dir"):
    """Loads a finished run's directory (``flag`` names the option it came from, for errors).

    Raises:
        UserInputError: a file is missing or the model cannot be loaded.
    """
    model_dir = pathlib.Path(model_dir)
    needed = [MODEL_FILE, TOKENIZER_FILE, SETTINGS_FILE]  # the tokenizer's own assets are checked as it loads
    missing = [name for name in needed if not (model_dir / name).is_file()]
    if missing:
        raise UserInputError(
            f"{flag}: {model_dir} lacks {', '.join(missing)}; is it the model_dir of a finished"
            " `python -m mtdnn_tf.train` run?"
        )
    settings = json.loads((model_dir / SETTINGS_FILE).read_text(encoding="utf-8"))
    try:
        model = keras.saving.load_model(model_dir / MODEL_FILE)
    except Exception as e:  # Keras raises many types for a damaged archive
        raise UserInputError(f"{model_dir / MODEL_FILE}: cannot load ({e})") from None
    tokenizer = keras.saving.deserialize_keras_object(
        json.loads((model_dir / TOKENIZER_FILE).read_text(encoding="utf-8"))
    )
    try:
        tokenizer.load_assets(str(model_dir))  # vocabulary.txt (WordPiece), vocabulary.json + merges.txt, ...
    except (OSError, ValueError) as e:
        raise UserInputError(f"{flag}: {model_dir}: cannot load its tokenizer's files ({e})") from None
    tasks = {}
    for name in settings["tasks"]:
        task = load_task_file(model_dir / TASKS_DIR / f"{name}.yaml")
        kind = settings.get("head_overrides", {}).get(name)
        tasks[name] = with_head_kind(task, kind) if kind else task
    return TrainedModel(str(model_dir), model, tokenizer, tasks, settings)
