"""Command line: the paper's comparisons on your tasks, ending in a results report.

    python -m mtdnn_tf.study --flagfile=configs/study.flags

Trains, per seed, one multi-task model on --tasks, a single-task baseline of
each task with the same budget, and a per-task refinement of the multi-task
model; then fine-tunes --target (held out of multi-task training) on fractions
of its training data from the multi-task encoder and from the pretrained
encoder alone. Writes --report (Markdown) and --plot (PNG) from the runs'
metrics.json files. Rerunning skips finished runs; --report_only rewrites the
report from what is there; --reproduce=<run> trains one finished run again and
compares its metrics with the recorded ones.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

from absl import flags  # noqa: E402

from mtdnn_tf.cli import absl_main, console_script, define_task_counts_flag, parse_task_counts  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_list("tasks", None, "Tasks trained jointly; the per-task table covers each.")
flags.DEFINE_string("target", None, "Domain-adaptation task, held out of multi-task training.")
flags.DEFINE_string("data_dir", None, "Root of the task files.")
flags.DEFINE_string("preset", None, "Pretrained encoder (keras-hub preset or local directory).")
flags.DEFINE_string("task_dir", None, "A directory of your own task YAML files, searched before the built-in tasks.")
flags.DEFINE_string("study_dir", None, "Where every run's model_dir and study.json go.")
flags.DEFINE_list("seeds", ["1", "2"], "Seeds of the multi-task, single-task and refinement runs.")
flags.DEFINE_list("fractions", ["0.001", "0.01", "0.1", "1"], "Fractions of --target's training data.")
flags.DEFINE_integer("samples_per_fraction", 3, "Random draws per fraction below 1.")
flags.DEFINE_integer("epochs", 3, "Multi-task and single-task epochs.")
flags.DEFINE_integer("refine_epochs", 1, "Refinement epochs.")
flags.DEFINE_integer("adapt_epochs", 2, "Minimum epochs of a fraction run.")
flags.DEFINE_integer("adapt_min_steps", 20, "Minimum steps of a fraction run (tiny fractions get more epochs).")
flags.DEFINE_integer("max_examples_per_task", 192, "Budget: training examples per task per epoch (0: all).")
flags.DEFINE_integer("max_seq_length", 128, "Packed sequence length.")
flags.DEFINE_list("baseline_tasks", None, "Tasks with single-task and refinement runs (default: all --tasks; "
                  "leave out pure source tasks such as mnli_dev_split).")
flags.DEFINE_string("ablate", None, "A task left out of one extra multi-task run (first seed), to show what it "
                    "brings, e.g. mnli_dev_split.")
define_task_counts_flag(flags, "task_max_examples", "Per-task caps on training examples per epoch, e.g. sst2=10000.",
                        __name__)
flags.DEFINE_string("compare_sampling", None, "A task sampler (uniform, proportional, temperature, annealed) for "
                    "one extra multi-task run (first seed) with Algorithm 1's number of steps.")
flags.DEFINE_float("sampling_temperature", 2.0, "T of --compare_sampling=temperature.")
flags.DEFINE_list("smart_tasks", None, "Tasks with extra single-task runs trained with SMART (first --smart_seeds seeds).")
flags.DEFINE_integer("smart_seeds", 2, "Seeds of the SMART runs.")
flags.DEFINE_bool("distill", False, "One extra multi-task run (first seed) distilled from every seed's multi-task model.")
flags.DEFINE_integer("checkpoint_every", 200, "Checkpoint each run every N steps (and at epoch ends), so a killed "
                     "study resumes inside the run it was in.")
flags.DEFINE_integer("batch_size", 32, "Training batch size.")
flags.DEFINE_float("learning_rate", 2e-4, "Peak learning rate.")
flags.DEFINE_enum("head_input", "mean", ["cls", "pooled", "mean"], "What linear heads read (see mtdnn_tf.train).")
flags.DEFINE_string("report", "docs/RESULTS.md", "Markdown report to write.")
flags.DEFINE_string("plot", "docs/domain_adaptation.png", "PNG of the adaptation curve.")
flags.DEFINE_string("report_json", "docs/results/study_runs.json", "Every run's final dev metrics, as JSON.")
flags.DEFINE_string("notes", None, "A Markdown file appended to the report as its interpretation.")
flags.DEFINE_string("machine", None, "Description of the machine for the report (default: from the OS).")
flags.DEFINE_bool("report_only", False, "Do not train; rewrite the report from --study_dir.")
flags.DEFINE_bool("show_plan", False, "Do not train: print every planned run, whether it has finished, and the "
                  "mtdnn_tf.train command that trains it.")
flags.DEFINE_string("reproduce", None, "Do not run the study: train its finished run of this name (e.g. "
                    "refined/rte/seed1) again into --reproduce_dir and compare the final dev metrics with the "
                    "recorded ones; exit status 0 when identical, 1 when not.")
flags.DEFINE_string("reproduce_dir", None, "Where --reproduce trains (default: a new temporary directory).")

flags.mark_flags_as_required(["tasks", "target", "data_dir", "preset", "study_dir"])


def _numbers(values, kind, flag):
    try:
        return [kind(v) for v in values]
    except ValueError:
        raise ValueError(f"--{flag}: expected a list of numbers, got {','.join(values)}") from None


def config_from_flags():
    from mtdnn_tf.errors import SettingError, UserInputError, as_flag_error  # noqa: PLC0415
    from mtdnn_tf.studies.plan import StudyConfig  # noqa: PLC0415

    try:
        seeds = _numbers(FLAGS.seeds, int, "seeds")
        fractions = _numbers(FLAGS.fractions, float, "fractions")
    except ValueError as e:
        raise UserInputError(str(e)) from None
    try:
        return StudyConfig(
            tasks=FLAGS.tasks, target=FLAGS.target, data_dir=FLAGS.data_dir, preset=FLAGS.preset,
            study_dir=FLAGS.study_dir, task_dir=FLAGS.task_dir, seeds=seeds, fractions=fractions,
            samples_per_fraction=FLAGS.samples_per_fraction, epochs=FLAGS.epochs,
            refine_epochs=FLAGS.refine_epochs, adapt_epochs=FLAGS.adapt_epochs,
            adapt_min_steps=FLAGS.adapt_min_steps, max_examples_per_task=FLAGS.max_examples_per_task,
            max_seq_length=FLAGS.max_seq_length, batch_size=FLAGS.batch_size, learning_rate=FLAGS.learning_rate,
            head_input=FLAGS.head_input, checkpoint_every=FLAGS.checkpoint_every,
            baseline_tasks=FLAGS.baseline_tasks, ablate=FLAGS.ablate,
            compare_sampling=FLAGS.compare_sampling, sampling_temperature=FLAGS.sampling_temperature,
            smart_tasks=FLAGS.smart_tasks, smart_seeds=FLAGS.smart_seeds, distill=FLAGS.distill,
            task_max_examples=parse_task_counts(FLAGS.task_max_examples),
        )
    except SettingError as e:  # the library names its setting; say which flag it came from
        raise as_flag_error(e) from None


def study_main():
    import pathlib  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from mtdnn_tf.errors import UserInputError  # noqa: PLC0415
    from mtdnn_tf.run_command import train_command  # noqa: PLC0415
    from mtdnn_tf.studies.report import write_report  # noqa: PLC0415
    from mtdnn_tf.studies.runner import planned_runs, run_study  # noqa: PLC0415

    config = config_from_flags()
    if FLAGS.reproduce:
        return reproduce(config)
    if FLAGS.show_plan:
        from mtdnn_tf.studies.runner import describe_plan  # noqa: PLC0415

        print("\n".join(describe_plan(config)))
        return 0
    study_json = pathlib.Path(config.study_dir) / "study.json"
    if FLAGS.report_only:
        if not study_json.is_file():
            raise UserInputError(f"--study_dir: {study_json} does not exist; run the study first")
    else:
        run_study(config)
    try:  # the plan of these flags, which may have grown since study.json was written
        runs = planned_runs(config)
    except UserInputError:  # the report can be rewritten where the data is not
        runs = None
    planned = None if runs is None else [run.name for run in runs]
    commands = None if runs is None else {run.name: train_command(run.settings) for run in runs}
    command = "python -m mtdnn_tf.study " + " ".join(a for a in sys.argv[1:] if not a.startswith("--report_only"))
    if FLAGS.notes and not pathlib.Path(FLAGS.notes).is_file():
        raise UserInputError(f"--notes: {FLAGS.notes} does not exist")
    write_report(study_json, FLAGS.report, FLAGS.plot, command=command, machine=FLAGS.machine, notes=FLAGS.notes,
                 out_json=FLAGS.report_json, planned=planned, commands=commands)
    print(f"Wrote {FLAGS.report}, {FLAGS.plot} and {FLAGS.report_json}")


def reproduce(config):
    """--reproduce: one run trained again; prints both runs' metrics; 0 if identical, else 1."""
    import tempfile  # noqa: PLC0415

    from mtdnn_tf.studies.runner import reproduce_run  # noqa: PLC0415

    model_dir = FLAGS.reproduce_dir or tempfile.mkdtemp(prefix="mtdnn_reproduce_")
    print(f"Training {FLAGS.reproduce} again into {model_dir}")
    recorded, reproduced = reproduce_run(config, FLAGS.reproduce, model_dir)
    differences = []
    for task, by_split in recorded.items():
        for split, values in by_split.items():
            for metric, value in values.items():
                again = reproduced.get(task, {}).get(split, {}).get(metric)
                print(f"{task} {split} {metric}: recorded {value!r}, now {again!r}")
                differences.append(float("inf") if again is None else abs(again - value))
    if max(differences, default=0.0) == 0.0:
        print(f"{FLAGS.reproduce}: identical")
        return 0
    print(f"{FLAGS.reproduce}: differs, by up to {max(differences):.3g}")
    return 1


main = absl_main(study_main)

console_main = console_script(main, __name__)  # the `mtdnn-study` command

if __name__ == "__main__":
    console_main()
