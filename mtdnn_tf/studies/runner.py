"""Running a planned study: each run once, finished runs skipped on a rerun.

Every run checkpoints (every ``checkpoint_every`` steps and at epoch ends), so
a killed study resumes inside the run it was in; a finished run's checkpoints
are deleted (later runs start from its ``model.keras``). study.json records
the commit of the code each run was made with and the machine it ran on.
"""

import dataclasses
import json
import pathlib
import shutil
import subprocess
import sys
import time

from mtdnn_tf.atomic_files import write_text_atomically
from mtdnn_tf.data.readers import read_split
from mtdnn_tf.errors import UserInputError
from mtdnn_tf.experiment import run
from mtdnn_tf.hardware import machine_description
from mtdnn_tf.metrics import format_metrics_inline
from mtdnn_tf.run_command import train_command
from mtdnn_tf.studies.plan import plan_study
from mtdnn_tf.tasks import load_tasks
from mtdnn_tf.training.checkpoints import checkpoint_prefixes


def code_commit():
    """The git commit of the mtdnn_tf code running (with '+changes' if its tree is modified), or 'unknown'."""
    package = pathlib.Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=package, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", str(package)],
                               cwd=package, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+changes" if dirty else "")


def _finished(planned):
    """A run is done when its metrics.json holds every epoch (and its model, if others need it)."""
    model_dir = pathlib.Path(planned.settings.model_dir)
    metrics = model_dir / "metrics.json"
    if not metrics.is_file():
        return False
    record = json.loads(metrics.read_text())
    if len(record.get("epochs", [])) < planned.settings.train.epochs:
        return False
    return not planned.settings.save_model or (model_dir / "model.keras").is_file()


def _has_checkpoint(planned):
    """Whether a stopped process left the run a checkpoint to resume from."""
    return bool(checkpoint_prefixes(pathlib.Path(planned.settings.model_dir) / "checkpoints"))


def planned_runs(config):
    """The study's runs (``plan_study``), sized by the target task's training split."""
    target = load_tasks([config.target], config.task_dir)[config.target]
    return plan_study(config, len(read_split(target, "train", config.data_dir)))


def describe_plan(config):
    """One line per planned run, in order: number, name, state (finished, started or to run), train command.

    Example line: ``[3/62] refined/rte/seed1 (to run): python -m mtdnn_tf.train --tasks=rte ...``
    """
    def state(planned):
        if _finished(planned):
            return "finished"
        return "started: resumes from its checkpoint" if _has_checkpoint(planned) else "to run"

    runs = planned_runs(config)
    return [f"[{number}/{len(runs)}] {planned.name} ({state(planned)}): {train_command(planned.settings)}"
            for number, planned in enumerate(runs, 1)]


def run_study(config, verbose=True):
    """Runs every planned run not yet finished; writes ``<study_dir>/study.json``.

    Returns the path of study.json, which lists each run with its kind, task,
    seed, fraction, initialisation, model_dir and wall time.
    """
    import keras  # noqa: PLC0415

    study_dir = pathlib.Path(config.study_dir)
    study_dir.mkdir(parents=True, exist_ok=True)
    runs = planned_runs(config)
    index_path = study_dir / "study.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {"runs": {}}
    index["config"] = dataclasses.asdict(config)
    names = [planned.name for planned in runs]
    if index.get("planned") != names:  # an interim report says what is to come
        index["planned"] = names
        write_text_atomically(index_path, json.dumps(index, indent=2) + "\n")
    started = time.time()
    for number, planned in enumerate(runs, 1):
        if _finished(planned):
            continue
        if verbose:
            print(f"[{number}/{len(runs)}] {planned.name}", flush=True)
        tick = time.time()
        # A run resumed from its checkpoint: its wall time below counts only this process's part.
        resumed = _has_checkpoint(planned)
        keras.backend.clear_session()  # runs share the process; free the previous graph
        settings = planned.settings
        if verbose and sys.stdout.isatty():  # a terminal gets the trainer's progress bar (a log file, not)
            settings = dataclasses.replace(settings, train=dataclasses.replace(settings.train, verbose=1))
        results = run(settings, verbose=False)  # resumes from the run's own checkpoint, if it has one
        if verbose:
            print(f"    done in {(time.time() - tick) / 60:.1f} min: {format_metrics_inline(results)}", flush=True)
        shutil.rmtree(pathlib.Path(planned.settings.model_dir) / "checkpoints", ignore_errors=True)
        entry = {k: v for k, v in dataclasses.asdict(planned).items() if k != "settings"}
        entry.update(model_dir=planned.settings.model_dir, seconds=round(time.time() - tick, 1),
                     epochs=planned.settings.train.epochs, commit=code_commit(), machine=machine_description(),
                     resumed=resumed)
        index["runs"][planned.name] = entry
        index["seconds"] = round(index.get("seconds", 0) + time.time() - tick, 1)
        write_text_atomically(index_path, json.dumps(index, indent=2) + "\n")
    if verbose:
        print(f"Study runs done in {time.time() - started:.0f} s ({len(runs)} runs)")
    return index_path


def reproduce_run(config, name, model_dir, verbose=True):
    """Trains the finished study run ``name`` again, into ``model_dir``, with this code.

    Returns (recorded, reproduced): the two runs' final dev metrics. The run starts
    from what it started from in the study (the same init_from or teachers).
    """
    runs = {planned.name: planned for planned in planned_runs(config)}
    if name not in runs:
        raise UserInputError(f"--reproduce: {name!r} is not a run of this study (its runs are named like"
                             f" {', '.join(list(runs)[:3])})")
    recorded = pathlib.Path(runs[name].settings.model_dir) / "metrics.json"
    if not _finished(runs[name]):
        raise UserInputError(f"--reproduce: {name} has not finished in {config.study_dir} (no complete {recorded})")
    if pathlib.Path(model_dir).resolve() == pathlib.Path(runs[name].settings.model_dir).resolve():
        raise UserInputError(f"--reproduce_dir: {model_dir} is the study's own run directory")
    settings = dataclasses.replace(runs[name].settings, model_dir=str(model_dir))
    run(settings, verbose=verbose)
    reproduced = json.loads((pathlib.Path(model_dir) / "metrics.json").read_text())["final"]
    return json.loads(recorded.read_text())["final"], reproduced

