"""Loading what ``mtdnn_tf.train`` wrote at the end of a run."""

import dataclasses
import json
import pathlib

import keras

from mtdnn_tf.data.packing import TextPacker
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.tasks import load_task_file


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

    def packer(self, max_seq_length=None):
        return TextPacker(self.tokenizer, max_seq_length or self.max_seq_length)


def load_trained_model(model_dir, flag="--model_dir"):
    """Loads ``model.keras``, ``tokenizer.json`` + ``vocabulary.txt``, ``tasks/`` and
    ``run_settings.json`` from a finished training run's directory (``flag`` names
    the option it came from, for error messages)."""
    model_dir = pathlib.Path(model_dir)
    needed = ["model.keras", "tokenizer.json", "vocabulary.txt", "run_settings.json"]
    missing = [name for name in needed if not (model_dir / name).is_file()]
    if missing:
        raise UserInputError(
            f"{flag}: {model_dir} lacks {', '.join(missing)}; is it the model_dir of a finished"
            " `python -m mtdnn_tf.train` run?"
        )
    settings = json.loads((model_dir / "run_settings.json").read_text(encoding="utf-8"))
    try:
        model = keras.saving.load_model(model_dir / "model.keras")
    except Exception as e:  # Keras raises many types for a damaged archive
        raise UserInputError(f"{model_dir / 'model.keras'}: cannot load ({e})") from None
    tokenizer = keras.saving.deserialize_keras_object(
        json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    )
    tokenizer.load_assets(str(model_dir))
    tasks = {}
    for name in settings["tasks"]:
        task = load_task_file(model_dir / "tasks" / f"{name}.yaml")
        kind = settings.get("head_overrides", {}).get(name)
        if kind:
            task = dataclasses.replace(task, head=dataclasses.replace(task.head, kind=kind))
        tasks[name] = task
    return TrainedModel(str(model_dir), model, tokenizer, tasks, settings)
