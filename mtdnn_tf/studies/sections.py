"""The sections of the study report, each a function from the study's results to Markdown lines."""

import re

import numpy as np

from mtdnn_tf.data.pipeline import num_batches
from mtdnn_tf.studies.cells import averaged_series, effect_cell, mean_cell
from mtdnn_tf.training.train_config import TrainConfig


def optimiser_text(records):
    """The runs' optimiser as their recorded settings say (e.g. 'Adamax, peak learning rate 0.0002,
    10% warm-up, linear decay'); each distinct setting once."""
    phrases = []
    for record in records.values():
        train = record["settings"]["train"]
        phrase = (("LazyAdamax" if train.get("lazy_embedding_update") else "Adamax")
                  + f", peak learning rate {train['learning_rate']:g}, {100 * train['warmup_proportion']:g}% warm-up,"
                  " linear decay" + (f", gradient norm clipped at {train['clip_norm']:g}" if train["clip_norm"] else ""))
        if phrase not in phrases:
            phrases.append(phrase)
    return "; ".join(phrases)


def machines(study):
    """The machines the runs recorded (runs before this was recorded have none)."""
    return sorted({entry["machine"] for entry in study["runs"].values() if entry.get("machine")})


# The paper's findings, for the reader to set ours beside (Liu et al. 2019, BERT-large, full GLUE).
PAPER_DIRECTIONS = [
    "Tables 2 and 3: multi-task training followed by per-task refinement (MT-DNN) beats BERT fine-tuned on"
    " each task alone on RTE, MRPC, STS-B, CoLA and SST-2; the largest gain is on RTE (a small task that"
    " profits from the NLI tasks, MNLI above all).",
    "Table 4: on SNLI and SciTail, starting from the MT-DNN encoder is far ahead of BERT when little"
    " in-domain data is used, and the gap closes as the data grows (SciTail with 0.1% of its training"
    " data: 81.9 vs 51.2 accuracy; with 100%: 95.7 vs 94.3).",
]


def smart_section(study, table):
    """Single-task runs with and without SMART, on the same seeds, with their wall time."""
    smart_tasks = study["config"].get("smart_tasks") or []
    if not any(("smart", t, None, None) in table for t in smart_tasks):
        return []
    lines = ["", "## SMART adversarial regularisation", "",
             "Single-task runs of the same seeds, without and with SMART (alpha 1, K 1, the official defaults);"
             " minutes: mean wall time of one run, over the runs not resumed after a stop. Both take the same"
             " optimizer steps, so the ratio of the minutes is SMART's cost per step.", "",
             "| task | single-task | single-task + SMART | SMART − single-task, paired by seed | minutes without"
             " | minutes with | cost per step, with / without |", "|---|---:|---:|---:|---:|---:|---:|"]
    for task in smart_tasks:
        with_smart = table.get(("smart", task, None, None), {})
        if not with_smart:
            continue
        plain = {seed: value for seed, value in table.get(("single_task", task, None, None), {}).items()
                 if seed in with_smart}
        minutes = {}
        for kind in ("single_task", "smart"):
            seconds = [e["seconds"] for e in study["runs"].values() if e["kind"] == kind and e["task"] == task
                       and e["seed"] in with_smart
                       and e.get("resumed") is False]  # runs of older code did not record it
            minutes[kind] = np.mean(seconds) / 60 if seconds else None
        ratio = f"{minutes['smart'] / minutes['single_task']:.2f}x" if None not in minutes.values() else "—"
        lines.append(f"| {task} | {mean_cell(plain, each=True) if plain else '—'} | {mean_cell(with_smart, each=True)} |"
                     f" {effect_cell(with_smart, plain)} | "
                     + " | ".join("—" if m is None else f"{m:.1f}" for m in minutes.values()) + f" | {ratio} |")
    return lines


def commands_section(commands, out_json):
    """One ``mtdnn_tf.train`` command per kind of run (the first of each), as the study trained it."""
    if not commands:
        return []
    first = {}
    for name, command in commands.items():  # in plan order
        first.setdefault(name.split("/")[0], (name, command))
    lines = ["", "## Commands", "",
             "Each run of the study is one `mtdnn_tf.train` command, written from the study's flags"
             + (f" (`{out_json}` records every finished run's)" if out_json else "")
             + ". The first run of each kind (the others differ in seed, task, fraction or directory):", ""]
    for name, command in first.values():
        lines += [f"- `{name}`:", "", "  ```", f"  {command}", "  ```"]
    lines += ["", "A run with `--init_from` or `--teachers` needs those runs finished first (the study orders"
              " them so). Beyond these flags, the study keeps 2 checkpoints per run and saves the final model"
              " only where a later run starts from it; neither changes what a run learns."]
    return lines


def sampling_section(study, records, table, metrics):
    """The sampled multi-task run beside Algorithm 1's of the same seed: steps each task got, dev metric."""
    config = study["config"]
    sampled = [name for name, entry in study["runs"].items() if entry["kind"] == "sampling"]
    if not sampled:
        return []
    record, seed = records[sampled[0]], study["runs"][sampled[0]]["seed"]
    plain = records.get(f"multi_task/seed{seed}")
    sampler = config["compare_sampling"] + (f", T={config['sampling_temperature']:g}"
                                            if config["compare_sampling"] == "temperature" else "")
    lines = ["", f"## Task sampling: Algorithm 1 vs {sampler}", "",
             f"The multi-task run of seed {seed} again, each step's task drawn by the {sampler} sampler instead of"
             " Algorithm 1 (every mini-batch of every task once per epoch), for the same number of steps per epoch."
             " Steps: per epoch, mean over epochs (Algorithm 1's: one per mini-batch of the epoch's examples)."
             " The difference is one seed's; read it against the multi-task seed spread (last column).", "",
             f"| task | examples per epoch | steps, Algorithm 1 | steps, {sampler} | dev, Algorithm 1 |"
             f" dev, {sampler} | {config['compare_sampling']} − Algorithm 1 | multi-task spread over seeds (sd) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    budget = TrainConfig(max_examples_per_task=config["max_examples_per_task"],  # the runs' per-epoch caps
                         task_max_examples=config.get("task_max_examples", {}))
    drawn = [e["steps"] for e in record["epochs"] if "steps" in e]
    for task in config["tasks"]:
        examples = budget.epoch_examples(task, record["train_examples"][task])
        steps = f"{np.mean([d[task] for d in drawn]):.0f}" if drawn else "—"
        metric = metrics[task]
        mine = record["final"][task]["dev"]
        theirs = plain["final"][task]["dev"][metric] if plain else None
        spread = list(table.get(("multi_task", task, None, None), {}).values())
        lines.append(f"| {task} | {examples} | {num_batches(examples, config['batch_size'])} | {steps} |"
                     f" {'—' if theirs is None else f'{100 * theirs:.1f}'} | {100 * mine[metric]:.1f} |"
                     f" {'—' if theirs is None else f'{100 * (mine[metric] - theirs):+.1f}'} |"
                     f" {f'{100 * np.std(spread, ddof=1):.1f}' if len(spread) > 1 else '—'} |")
    return lines


# The comparisons read against the seed spread: (later kind, earlier kind, heading).
EFFECTS = [("multi_task", "single_task", "multi-task − single-task"),
           ("refined", "single_task", "refinement − single-task"),
           ("refined", "multi_task", "refinement − multi-task")]


def effects_section(config, table, averaged):
    """Each effect as paired per-seed differences, so it can be set against the seed spread."""
    tasks = [t for t in config["tasks"] if ("single_task", t, None, None) in table]
    if not tasks:
        return []
    lines = ["", "## Effects against the seed spread", "",
             "Per seed, the difference between two settings trained with that seed (in points of the task's"
             " metric), then mean ± sample standard deviation over seeds and how many seeds agree in sign."
             " An effect whose spread is as large as its mean, or whose sign the seeds do not agree on, is"
             " not established by these runs.", "",
             "| task | " + " | ".join(heading for _, _, heading in EFFECTS) + " |", "|---|" + "---:|" * len(EFFECTS)]
    for task in tasks:
        cells = [effect_cell(table.get((a, task, None, None), {}), table.get((b, task, None, None), {}))
                 for a, b, _ in EFFECTS]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    if averaged:
        cells = [effect_cell(averaged_series(table, a, averaged), averaged_series(table, b, averaged))
                 for a, b, _ in EFFECTS]
        lines.append(f"| average of {', '.join(averaged)} | " + " | ".join(cells) + " |")
    return lines


def progress_lines(study, planned):
    """For a study still running: how many planned runs have finished, which kinds are still to come,
    and the time they should take, judged by the same runs of another seed."""
    missing = [name for name in planned if name not in study["runs"]]
    if not missing:
        return []
    to_come = {}
    for name in missing:  # 'single_task/rte/seed2' -> 'single_task'
        to_come[name.split("/")[0]] = to_come.get(name.split("/")[0], 0) + 1
    def without_seed(name):  # 'single_task/rte/seed2' -> 'single_task/rte'
        return re.sub(r"/seed\d+$", "", name)

    seconds_of = {}  # 'single_task/rte' -> wall seconds of its finished seeds
    for name, entry in study["runs"].items():
        seconds_of.setdefault(without_seed(name), []).append(entry["seconds"])
    known = [np.mean(seconds_of[without_seed(name)]) for name in missing if without_seed(name) in seconds_of]
    estimate = (f" The {len(known)} of them with a finished seed of the same run should take about"
                f" {sum(known) / 3600:.1f} h on this machine (their finished seeds' wall times)"
                + (f"; the other {len(missing) - len(known)} have no such measure yet." if len(known) < len(missing)
                   else ".")) if known else ""
    complete = [kind for kind in dict.fromkeys(name.split("/")[0] for name in planned) if kind not in to_come]
    return ["", f"**Interim report: {len(planned) - len(missing)} of {len(planned)} planned runs have finished;"
            " the study is still running.**"
            + (f" Every planned run of these kinds has finished, so their cells are final: {', '.join(complete)}."
               if complete else "")
            + " A cell with fewer seeds than planned, or a '—', is waiting for"
            " runs still to come: " + ", ".join(f"{kind} {count}" for kind, count in to_come.items()) + "."
            + estimate]


def header_lines(study, records, tasks, metrics, command, machine):
    """The title and the study's design: machine, encoder, budget, metric, the tasks' descriptions."""
    config = study["config"]
    commits = sorted({r.get("commit", "unrecorded") for r in study["runs"].values()})
    seeds = ", ".join(str(s) for s in config["seeds"])
    lines = [
        "# Results: multi-task learning and domain adaptation",
        "",
        f"Written by `mtdnn_tf.study` from the runs' `metrics.json` files; reproduce with `{command}`."
        if command else "Written by `mtdnn_tf.study` from the runs' `metrics.json` files.",
        "",
        f"- Machine: {machine}. Total training and evaluation time: {study.get('seconds', 0) / 60:.0f} min"
        f" over {len(study['runs'])} runs (a run resumed after a stop counts the part after it)."
        f" Code: commit {', '.join(commits)}.",
        f"- Encoder: `{config['preset']}`; head input: {config['head_input']}; max length"
        f" {config['max_seq_length']}; batch {config['batch_size']}; {optimiser_text(records)}.",
        "- Budget: " + (f"at most {config['max_examples_per_task']}" if config["max_examples_per_task"] else "all")
        + " training examples of each task every epoch"
        + "".join(f", {t} at most {n}" for t, n in config.get("task_max_examples", {}).items())
        + f" (a new draw each epoch); {config['epochs']} epochs for multi-task and single-task training;"
        f" {config['refine_epochs']} refinement epoch(s); seeds {seeds}.",
        "- Metric: each task's primary dev metric (" + ", ".join(f"{t}: {m}" for t, m in metrics.items())
        + "), as a percentage; mean ± sample standard deviation over seeds.",
        "- Tasks, as their YAML files describe them:",
    ]
    return lines + [f"  - `{name}`: {' '.join(task.description.split())}"
                    for name, task in tasks.items() if task.description]


def averaged_tasks(config):
    """The tasks whose per-seed mean is a row of its own (the paper's small GLUE tasks)."""
    return [t for t in ("rte", "mrpc", "stsb", "cola") if t in config["tasks"]]


def task_table_section(config, table):
    """Single-task, multi-task and refined cells per task (and the study's extra runs), with the average row."""
    lines = ["", "## Single-task vs multi-task vs multi-task + refinement", ""]
    kinds = ["single_task", "multi_task", "refined"]
    header = "| task | single-task | multi-task | multi-task + refinement |"
    if config.get("ablate"):  # one extra multi-task run without a source task (first seed)
        kinds.append("ablation")
        header += f" multi-task without {config['ablate']} (seed {config['seeds'][0]}) |"
    if config.get("compare_sampling"):  # one extra multi-task run drawing tasks by a sampler (first seed)
        kinds.append("sampling")
        sampler = config["compare_sampling"] + (f", T={config['sampling_temperature']:g}"
                                                if config["compare_sampling"] == "temperature" else "")
        header += f" multi-task, {sampler} sampling (seed {config['seeds'][0]}) |"
    if config.get("distill"):  # one extra multi-task run distilled from every seed's multi-task model
        kinds += ["ensemble", "distilled"]
        header += (f" ensemble of the {len(config['seeds'])} multi-task seeds (the teachers) |"
                   f" multi-task distilled from them (seed {config['seeds'][0]}) |")
    lines += [header, "|---|" + "---:|" * len(kinds)]
    for task in config["tasks"]:
        cells = [mean_cell(table[(kind, task, None, None)], each=True) if (kind, task, None, None) in table else "—"
                 for kind in kinds]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    averaged = averaged_tasks(config)
    if averaged:  # per seed, the mean over these tasks; then mean ± sd over seeds
        cells = [mean_cell(values, each=True) if values else "—"
                 for values in (averaged_series(table, kind, averaged) for kind in kinds)]
        lines.append(f"| average of {', '.join(averaged)} | " + " | ".join(cells) + " |")
    return lines + ["", "Cells: mean ± sample standard deviation over seeds, then each seed's value in seed order."]


def adaptation_section(study, records, table, chance, plot_name):
    """The target's dev metric per training fraction from both starting points, paired by draw, and the plot."""
    config = study["config"]
    target = config["target"]
    lines = [
        "",
        f"## Domain adaptation to {target}",
        "",
        f"{target} was held out of multi-task training. Fine-tuned on a random, class-stratified"
        f" fraction of its training data, starting from the multi-task encoder (seed"
        f" {config['seeds'][0]}) or from the pretrained encoder alone; {config['samples_per_fraction']}"
        " draws per fraction below 100% (mean ± standard deviation, [min, max]).",
        "",
        "| fraction | examples | pretrained encoder | MT-DNN encoder | MT-DNN − pretrained, paired by draw |",
        "|---:|---:|---:|---:|---:|",
    ]
    sizes = {}
    for name, entry in study["runs"].items():
        if entry["kind"] == "adapt":
            sizes[entry["fraction"]] = records[name].get("train_examples", {}).get(target)
    for fraction in sorted({k[2] for k in table if k[0] == "adapt"}):
        cells = []
        for init in ("pretrained", "mtdnn"):
            values = table.get(("adapt", target, fraction, init), {})
            cells.append(f"{mean_cell(values)} [{100 * min(values.values()):.1f}, {100 * max(values.values()):.1f}]"
                         if values else "—")
        # The plan trains both starting points on each draw, so equal draws share their training data.
        cells.append(effect_cell(table.get(("adapt", target, fraction, "mtdnn"), {}),
                                 table.get(("adapt", target, fraction, "pretrained"), {}), unit="draw"))
        lines.append(f"| {100 * fraction:g}% | {sizes.get(fraction, '?')} | " + " | ".join(cells) + " |")
    if chance is not None:
        lines += ["", f"Majority class of the {target} dev set: {100 * chance:.1f}%."]
    return lines + ["", f"![domain adaptation curve]({plot_name})"]


def paper_section():
    return ["", "## The paper's directions, for comparison", ""] + [f"- {line}" for line in PAPER_DIRECTIONS]
