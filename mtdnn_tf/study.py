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

from mtdnn_tf.cli import absl_main, console_script, define_setting_flags, setting_values  # noqa: E402
from mtdnn_tf.studies.plan import StudyConfig  # noqa: E402

FLAGS = flags.FLAGS

# The StudyConfig fields this command exposes; each flag's type, default and help come from the field.
STUDY_FLAGS = ("tasks", "target", "data_dir", "preset", "task_dir", "study_dir", "seeds", "fractions",
               "samples_per_fraction", "epochs", "refine_epochs", "adapt_epochs", "adapt_min_steps",
               "max_examples_per_task", "max_seq_length", "baseline_tasks", "ablate", "task_max_examples",
               "compare_sampling", "sampling_temperature", "smart_tasks", "smart_seeds", "distill",
               "checkpoint_every", "batch_size", "learning_rate", "head_input")
define_setting_flags(StudyConfig, STUDY_FLAGS, __name__)
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


def config_from_flags():
    from mtdnn_tf.errors import SettingError, as_flag_error  # noqa: PLC0415

    try:
        return StudyConfig(**setting_values(StudyConfig, STUDY_FLAGS, FLAGS))
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
