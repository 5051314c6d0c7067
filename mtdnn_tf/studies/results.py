"""A study's results keyed by seed and draw: every run's metrics.json read once, and its runs JSON."""

import json
import pathlib

from mtdnn_tf.errors import UserInputError
from mtdnn_tf.metrics import primary_metric
from mtdnn_tf.tasks import load_tasks


def read_records(study):
    """Every finished run's metrics.json, read once: {run name: record}."""
    return {name: json.loads((pathlib.Path(entry["model_dir"]) / "metrics.json").read_text())
            for name, entry in study["runs"].items()}


def collect(study, records):
    """Per run, the task's primary dev metric: {(kind, task, fraction, init): {seed: value}} (an
    adaptation run's seed is its draw), and the study's TaskConfigs by name.

    Keyed by seed, so that paired cells pair equal seeds whatever order study.json lists the runs in.
    """
    config = study["config"]
    names = sorted({r["task"] for r in study["runs"].values() if r["task"]} | set(config["tasks"])
                   | {config["target"]})  # the target's metric names the curve's axis before its runs exist
    tasks = load_tasks(names, config.get("task_dir"))
    table = {}
    for run_name, entry in study["runs"].items():
        final = records[run_name]["final"]
        # A multi-task run reports its own tasks (the ablation lacks the task it leaves out).
        task_names = [entry["task"]] if entry["task"] else [n for n in config["tasks"] if n in final]
        for name in task_names:
            value = final[name]["dev"][primary_metric(tasks[name])]
            _put(table, (entry["kind"], name, entry.get("fraction"), entry.get("init")), entry["seed"], value,
                 run_name)
        # A distilled run also recorded its teachers' ensemble, scored on the same dev sets.
        for name, distilled in records[run_name].get("distillation", {}).items():
            if "dev" in distilled.get("ensemble", {}):
                value = distilled["ensemble"]["dev"][primary_metric(tasks[name])]
                _put(table, ("ensemble", name, None, None), entry["seed"], value, run_name)
    return table, tasks


def _put(table, key, seed, value, run_name):
    by_seed = table.setdefault(key, {})
    if seed in by_seed:  # two runs of one cell and seed would make a pairing ambiguous
        raise UserInputError(f"study.json: run {run_name} repeats seed {seed} of another {key[0]} run of {key[1]}")
    by_seed[seed] = value


def write_runs_json(study, records, path, commands=None):
    """Writes every run's design and final dev metrics to one small JSON file (no checkpoints).

    ``commands``: each run's ``mtdnn_tf.train`` command by name, recorded beside it.
    """
    runs = {}
    for name, entry in study["runs"].items():
        record = records[name]
        runs[name] = {**entry, "final": record["final"], "train_examples": record.get("train_examples")}
        if commands and name in commands:
            runs[name]["command"] = commands[name]
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config": study["config"], "seconds": study.get("seconds"), "runs": runs},
                               indent=1) + "\n", encoding="utf-8")
