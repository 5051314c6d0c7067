"""The study's SMART cells again, with this code, plus SMART at a larger alpha; resumable.

    python benchmarks/smart_rerun.py --out_dir=runs/smart_rerun --alphas=1,10

Reads the study's design from ``--study_json`` (docs/results/study_runs.json): its
SMART runs (``single_task_smart/<task>/seed<s>``, alpha 1) are planned by
``mtdnn_tf.studies.plan`` exactly as the study planned them, trained under
``--out_dir``, and each further alpha trains once (the first SMART task, the
first seed). A killed rerun resumes inside the run it was in (each run
checkpoints); finished runs are skipped. ``--json`` collects each run's final
dev metric, wall time, code commit, machine and SMART regulariser per epoch;
``--markdown`` writes the table pairing each with the study's single-task run of
the same seed (those come from the study's own commit and machine: say so).
"""

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def planned_smart_runs(study, out_dir, alphas):
    """(name, PlannedRun) of the study's SMART runs at ``alphas[0]``, then one run per further alpha."""
    from mtdnn_tf.settings.smart_config import SmartConfig  # noqa: PLC0415
    from mtdnn_tf.studies.plan import StudyConfig, plan_study  # noqa: PLC0415

    config = StudyConfig(**{**study["config"], "study_dir": str(out_dir)})
    smart = [r for r in plan_study(config, target_train_size=1) if r.kind == "smart"]  # no adapt run is used
    runs = []
    for planned in smart:
        settings = dataclasses.replace(planned.settings, train=dataclasses.replace(
            planned.settings.train, smart=SmartConfig(enabled=True, alpha=alphas[0])))
        runs.append(dataclasses.replace(planned, settings=settings))
    first = smart[0]
    for alpha in alphas[1:]:
        name = f"single_task_smart_alpha{alpha:g}/{first.task}/seed{first.seed}"
        settings = dataclasses.replace(first.settings, model_dir=f"{out_dir}/{name}", train=dataclasses.replace(
            first.settings.train, smart=SmartConfig(enabled=True, alpha=alpha)))
        runs.insert(1, dataclasses.replace(first, name=name, kind=f"smart_alpha{alpha:g}", settings=settings))
    return runs


def _record(planned):
    path = pathlib.Path(planned.settings.model_dir) / "metrics.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _finished(planned):
    record = _record(planned)
    return record is not None and len(record.get("epochs", [])) >= planned.settings.train.epochs


def markdown(study, results):
    """The rerun's table, SMART runs paired by seed with the study's single-task runs."""
    import numpy as np  # noqa: PLC0415

    from mtdnn_tf.metrics import primary_metric  # noqa: PLC0415
    from mtdnn_tf.studies.cells import effect_cell, mean_cell  # noqa: PLC0415
    from mtdnn_tf.tasks import load_tasks  # noqa: PLC0415

    plain_runs = study["runs"]
    tasks = load_tasks(sorted({r["task"] for r in results.values()}))
    lines = ["| task | alpha | single-task (study) | single-task + SMART (rerun) | SMART − single-task, paired by"
             " seed | SMART regulariser, mean over training | minutes per run (rerun) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    groups = {}
    for result in results.values():
        groups.setdefault((result["task"], result["alpha"]), []).append(result)
    for (task, alpha), group in groups.items():
        metric = primary_metric(tasks[task])
        smart = {r["seed"]: r["final"][task]["dev"][metric] for r in group}
        plain = {s: plain_runs[f"single_task/{task}/seed{s}"]["final"][task]["dev"][metric] for s in smart
                 if f"single_task/{task}/seed{s}" in plain_runs}
        regularizer = np.mean([v for r in group for e in r["smart_regularizer"] for v in e.values()])
        minutes = np.mean([r["seconds"] for r in group if not r["resumed"]] or [np.nan]) / 60
        lines.append(f"| {task} | {alpha:g} | {mean_cell(plain, each=True)} | {mean_cell(smart, each=True)} |"
                     f" {effect_cell(smart, plain)} | {regularizer:.2e} |"
                     f" {'—' if np.isnan(minutes) else f'{minutes:.1f}'} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study_json", default="docs/results/study_runs.json")
    parser.add_argument("--out_dir", default="runs/smart_rerun")
    parser.add_argument("--alphas", default="1,10", help="the first: the study's SMART runs; each other: one run")
    parser.add_argument("--json", default=None, help="default: <out_dir>/smart_rerun.json")
    parser.add_argument("--markdown", default=None, help="also write the table here")
    parser.add_argument("--report_only", action="store_true", help="train nothing; tabulate what finished")
    args = parser.parse_args()

    import keras  # noqa: PLC0415

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    from machine import cpu_description  # noqa: PLC0415 - benchmarks/machine.py

    from mtdnn_tf.experiment import run  # noqa: PLC0415
    from mtdnn_tf.hardware import machine_description  # noqa: PLC0415
    from mtdnn_tf.studies.runner import code_commit  # noqa: PLC0415

    print(cpu_description(), flush=True)
    study = json.loads(pathlib.Path(args.study_json).read_text())
    alphas = [float(a) for a in args.alphas.split(",")]
    runs = planned_smart_runs(study, args.out_dir, alphas)
    out_json = pathlib.Path(args.json or f"{args.out_dir}/smart_rerun.json")
    results = json.loads(out_json.read_text())["runs"] if out_json.is_file() else {}
    for number, planned in enumerate(runs, 1):
        if args.report_only or (_finished(planned) and planned.name in results):
            continue
        print(f"[{number}/{len(runs)}] {planned.name}", flush=True)
        tick = time.time()
        resumed = any((pathlib.Path(planned.settings.model_dir) / "checkpoints").glob("ckpt-*.index"))
        if not _finished(planned):
            keras.backend.clear_session()
            run(planned.settings, verbose=False)
        record = _record(planned)
        results[planned.name] = {
            "task": planned.task, "seed": planned.seed, "alpha": planned.settings.train.smart.alpha,
            "final": record["final"], "seconds": round(time.time() - tick, 1), "resumed": resumed,
            "smart_regularizer": [e.get("smart_regularizer", {}) for e in record["epochs"]],
            "commit": code_commit(), "machine": machine_description(), "cpu": cpu_description(),
        }
        out_json.parent.mkdir(parents=True, exist_ok=True)
        out_json.write_text(json.dumps({"study_json": args.study_json, "alphas": alphas, "runs": results},
                                       indent=1) + "\n")
        print(f"    done in {(time.time() - tick) / 60:.1f} min: {record['final']}", flush=True)
    table = markdown(study, results) if results else "no run has finished\n"
    print(table)
    if args.markdown:
        pathlib.Path(args.markdown).write_text(table)


if __name__ == "__main__":
    main()
