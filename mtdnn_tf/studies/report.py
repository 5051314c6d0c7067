"""The study report: docs/RESULTS.md, the domain-adaptation curve and the runs JSON, from the runs' metrics.

The jobs are apart: ``results`` reads the runs and keys their metrics by seed
and draw, ``chance`` reads the target's dev labels, ``plot`` draws the curve,
``sections`` renders each part of the Markdown; this module puts them together.
"""

import json
import pathlib

from mtdnn_tf.hardware import machine_description
from mtdnn_tf.metrics import primary_metric
from mtdnn_tf.studies import sections
from mtdnn_tf.studies.chance import target_chance
from mtdnn_tf.studies.plot import plot_adaptation
from mtdnn_tf.studies.results import collect, read_records, write_runs_json


def write_report(study_json, out_md, out_png, command="", machine=None, notes=None, out_json=None, planned=None,
                 commands=None):
    """Writes the Markdown report and the PNG curve; returns the Markdown text.

    ``planned``: the names of every planned run (default: as study.json recorded
    them); while some have not finished, the report says it is interim.

    ``notes``: a Markdown file appended under "Reading the numbers" (the
    interpretation, written by a person; the tables above it are generated).
    ``out_json``: also write every run's final metrics there (``write_runs_json``).
    ``commands``: every planned run's ``mtdnn_tf.train`` command by name, in plan order
    (``run_command.train_command``); the report shows one of each kind.
    """
    study = json.loads(pathlib.Path(study_json).read_text())
    config = study["config"]
    records = read_records(study)
    table, tasks = collect(study, records)
    metrics = {name: primary_metric(task) for name, task in tasks.items()}
    out_md, out_png = pathlib.Path(out_md), pathlib.Path(out_png)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    chance = target_chance(config, metrics)
    plot_adaptation(table, config["target"], out_png, metrics.get(config["target"], "dev metric"), chance)
    if out_json:
        write_runs_json(study, records, out_json, commands)
    machine = machine or "; ".join(sections.machines(study)) or machine_description() + " (the report's machine)"
    lines = sections.header_lines(study, records, tasks, metrics, command, machine)
    lines += sections.progress_lines(study, planned if planned is not None else study.get("planned", []))
    lines += sections.task_table_section(config, table)
    lines += sections.effects_section(config, table, sections.averaged_tasks(config))
    lines += sections.sampling_section(study, records, table, metrics)
    lines += sections.smart_section(study, table)
    lines += sections.adaptation_section(study, records, table, chance, out_png.name)
    lines += sections.paper_section()
    lines += sections.commands_section(commands, out_json) + [""]
    if notes:
        lines += ["## Reading the numbers", "", pathlib.Path(notes).read_text(encoding="utf-8").strip(), ""]
    text = "\n".join(lines)
    out_md.write_text(text, encoding="utf-8")
    return text
