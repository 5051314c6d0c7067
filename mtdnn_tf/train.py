"""Command line: train an MT-DNN model.

    python -m mtdnn_tf.train --flagfile=configs/demo.flags
    python -m mtdnn_tf.train --flagfile=configs/glue_local.flags

User errors (bad flags, missing or malformed files) end with one line on
stderr and exit status 2; a non-finite loss ends with exit status 3.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

from absl import flags  # noqa: E402

from mtdnn_tf.cli import absl_main, console_script, define_task_counts_flag, parse_task_counts  # noqa: E402
from mtdnn_tf.errors import NonFiniteLossError  # noqa: E402

from mtdnn_tf.models.head_input import HEAD_INPUTS  # noqa: E402
from mtdnn_tf.training.strategies import STRATEGIES  # noqa: E402

FLAGS = flags.FLAGS

flags.DEFINE_list("tasks", None, "Tasks to train jointly, by YAML name (<task_dir>/<name>.yaml or a built-in task).")
flags.DEFINE_string("model_dir", None, "Where checkpoints, metrics.json and the final model go.")
flags.DEFINE_string("data_dir", None, "Root of the task files (<data_dir>/<TASK>/train.tsv ...), or the tfds data_dir.")
flags.DEFINE_enum("data_source", "files", ["files", "tfds"], "Read task files, or tensorflow-datasets.")
flags.DEFINE_string("task_dir", None, "A directory of your own task YAML files, searched before the built-in tasks "
                    "(mtdnn_tf/tasks/builtin, linked as configs/tasks in a checkout).")
flags.DEFINE_string("preset", None, "keras-hub preset name, Keras preset directory or Hugging Face BERT directory.")
flags.DEFINE_string("random_backbone", None, "Without --preset: size of a randomly initialised BERT ('tiny', 'small' or num_layers=..,hidden_dim=..,num_heads=..,intermediate_dim=..[,max_sequence_length=..]).")
flags.DEFINE_string("vocab_file", None, "WordPiece vocabulary for a random backbone.")
flags.DEFINE_string("cache_dir", None, "Cache tokenised splits of task files here; reused while the file, task, "
                    "vocabulary and length are unchanged (default: no cache).")
flags.DEFINE_bool("generate_demo_data", False, "Write the synthetic demo suite into --data_dir first.")
flags.DEFINE_integer("max_seq_length", 128, "Packed sequence length, [CLS] and [SEP] included.")
flags.DEFINE_enum("head_input", "cls", list(HEAD_INPUTS), "What linear heads read: final [CLS] state, pooler output, or masked mean.")
flags.DEFINE_list("heads", [], "Override task head kinds, e.g. 'rte=linear,mrpc=linear' for a linear baseline.")
flags.DEFINE_bool("skip_malformed", False, "Skip malformed rows (counted and reported) instead of stopping.")
flags.DEFINE_enum("strategy", "default", list(STRATEGIES), "tf.distribute strategy.")
flags.DEFINE_string("tpu", None, "TPU address for --strategy=tpu.")
flags.DEFINE_integer("epochs", 5, "Training epochs.")
flags.DEFINE_integer("batch_size", 32, "Global training batch size.")
flags.DEFINE_integer("eval_batch_size", 64, "Global evaluation batch size.")
flags.DEFINE_float("learning_rate", 5e-5, "Peak learning rate (Adamax).")
flags.DEFINE_float("warmup_proportion", 0.1, "Fraction of steps of linear warm-up.")
flags.DEFINE_float("clip_norm", 1.0, "Global gradient-norm clipping (0 disables).")
flags.DEFINE_integer("seed", 13, "Random seed (batch order, shuffling, initialisation).")
flags.DEFINE_integer("checkpoint_every", 0, "Also checkpoint every N steps (0: epoch ends only).")
flags.DEFINE_integer("evaluate_every", 1, "Evaluate on the dev splits every N epochs (and always after the last; "
                     "0: after the last only).")
flags.DEFINE_integer("tensorboard_every", 10, "Write each task's training loss to TensorBoard every N steps (0: never).")
flags.DEFINE_integer("sort_window", 32, "Sort each window of this many batches of a task by length, so batches "
                     "pad little (1: no sorting; batch order stays Algorithm 1's).")
flags.DEFINE_bool("jit_compile", False, "Compile the train and eval steps with XLA (one compilation per bucket shape).")
flags.DEFINE_bool("xla_whole_step", False, "With --jit_compile on one device: compile clipping and the optimizer "
                  "update into the same XLA program as the forward and backward pass.")
flags.DEFINE_enum("mixed_precision", None, ["mixed_float16", "mixed_bfloat16", "auto"],
                  "Run the encoder in 16-bit (heads and losses stay float32; float16 uses dynamic loss scaling); "
                  "auto: mixed_bfloat16 on a CPU with AMX, float32 elsewhere.")
flags.DEFINE_string("init_from", None, "A finished run's --model_dir: start from its encoder (and the heads of "
                    "tasks it shares with --tasks); the paper's per-task refinement stage. Overrides --preset.")
flags.DEFINE_float("train_fraction", 1.0, "Train on this seeded fraction of each training split "
                   "(class-stratified; for domain-adaptation curves).")
flags.DEFINE_integer("fraction_seed", 0, "Seed of the --train_fraction draw.")
flags.DEFINE_integer("max_examples_per_task", 0, "Budget: at most this many training examples of each task per "
                     "epoch, a new seeded draw each epoch (0: all).")
define_task_counts_flag(flags, "task_max_examples", "Per-task budget overriding --max_examples_per_task, e.g. "
                        "'sst2=10000': at most that many of the task's examples per epoch, a new draw each epoch.", __name__)
flags.DEFINE_string("task_sampling", "algorithm1", "Which task each step uses: algorithm1 (the paper: every batch "
                    "of every task once per epoch, shuffled), uniform, proportional (to task size), temperature "
                    "(size^(1/T)) or annealed (proportional towards uniform over the epochs).")
flags.DEFINE_float("sampling_temperature", 2.0, "T of --task_sampling=temperature.")
flags.DEFINE_integer("steps_per_epoch", 0, "Steps per epoch of a drawing sampler (0: as many as Algorithm 1 takes).")
flags.DEFINE_bool("smart", False, "SMART adversarial regularisation (Jiang et al. 2020) of every task, unless its "
                  "YAML says otherwise (smart: {enabled: false}); see the README's SMART section.")
flags.DEFINE_float("smart_alpha", 1.0, "SMART: weight of the regulariser.")
flags.DEFINE_integer("smart_steps", 1, "SMART: projected ascent steps K.")
flags.DEFINE_float("smart_step_size", 1e-5, "SMART: ascent step size.")
flags.DEFINE_float("smart_noise_var", 1e-5, "SMART: scale of the initial Gaussian noise on the embeddings.")
flags.DEFINE_float("smart_epsilon", 1e-6, "SMART: epsilon of the infinity-norm projection.")
flags.DEFINE_list("teachers", [], "Knowledge distillation: finished runs' --model_dir values (e.g. an ensemble of "
                  "seeds) whose averaged predictions become soft targets for the tasks they share with this run.")
flags.DEFINE_float("distill_weight", 0.5, "With --teachers: weight of the soft-target loss (the gold-label loss gets "
                   "1 minus it); a task YAML's distill_weight overrides it.")
flags.DEFINE_bool("skip_nonfinite", False, "Skip a batch whose loss or gradient is NaN or infinite (counted, "
                  "reported on stderr and in metrics.json) instead of stopping with exit status 3.")
flags.DEFINE_bool("lazy_embedding_update", False, "Adamax updates only the embedding rows each batch uses "
                  "(a row-sparse update; faster, and unused rows keep their value; see the README's Speed section).")
flags.DEFINE_bool("pad_last_batch", False, "Fill each task's short last batch up to --batch_size with zero-weight "
                  "rows (every example still trained once an epoch): batches take one shape per bucket, as "
                  "TPUs and XLA want.")
flags.DEFINE_integer("steps_per_loop", 1, "Optimizer steps per call of the training loop's tf.function (the task "
                     "of each step chosen inside it); more saves a host round trip per step on a GPU or TPU. "
                     "Checkpoints and the non-finite check's report fall on loop boundaries.")
flags.DEFINE_integer("verbose", 1, "0: quiet; 1: progress bars.")

flags.mark_flags_as_required(["tasks", "model_dir"])
flags.register_validator(
    "heads", lambda v: all(i.partition("=")[0] and i.partition("=")[2] for i in v),
    "--heads takes task=kind pairs, e.g. rte=linear,mrpc=linear",
)


def parse_heads(items):
    overrides = {}
    for item in items:
        name, sep, kind = item.partition("=")
        if not sep or not name or not kind:
            raise ValueError(f"--heads: expected task=kind, got {item!r}")
        overrides[name] = kind
    return overrides


def settings_from_flags():
    from mtdnn_tf.experiment import RunSettings  # noqa: PLC0415 - after flag parsing: imports TensorFlow
    from mtdnn_tf.training.smart import SmartConfig  # noqa: PLC0415
    from mtdnn_tf.training.train_config import TrainConfig  # noqa: PLC0415

    return RunSettings(
        tasks=FLAGS.tasks, model_dir=FLAGS.model_dir, data_dir=FLAGS.data_dir,
        data_source=FLAGS.data_source, task_dir=FLAGS.task_dir, preset=FLAGS.preset,
        random_backbone=FLAGS.random_backbone, vocab_file=FLAGS.vocab_file,
        generate_demo_data=FLAGS.generate_demo_data, max_seq_length=FLAGS.max_seq_length,
        head_input=FLAGS.head_input, head_overrides=parse_heads(FLAGS.heads), skip_malformed=FLAGS.skip_malformed,
        strategy=FLAGS.strategy, tpu=FLAGS.tpu, mixed_precision=FLAGS.mixed_precision,
        init_from=FLAGS.init_from, train_fraction=FLAGS.train_fraction, fraction_seed=FLAGS.fraction_seed,
        cache_dir=FLAGS.cache_dir, teachers=FLAGS.teachers,
        train=TrainConfig(
            epochs=FLAGS.epochs, batch_size=FLAGS.batch_size, eval_batch_size=FLAGS.eval_batch_size,
            learning_rate=FLAGS.learning_rate, warmup_proportion=FLAGS.warmup_proportion,
            clip_norm=FLAGS.clip_norm, seed=FLAGS.seed, checkpoint_every=FLAGS.checkpoint_every,
            tensorboard_every=FLAGS.tensorboard_every, evaluate_every=FLAGS.evaluate_every,
            sort_window=FLAGS.sort_window, jit_compile=FLAGS.jit_compile, xla_whole_step=FLAGS.xla_whole_step,
            max_examples_per_task=FLAGS.max_examples_per_task, skip_nonfinite=FLAGS.skip_nonfinite,
            task_max_examples=parse_task_counts(FLAGS.task_max_examples),
            verbose=FLAGS.verbose, lazy_embedding_update=FLAGS.lazy_embedding_update,
            distill_weight=FLAGS.distill_weight, task_sampling=FLAGS.task_sampling,
            sampling_temperature=FLAGS.sampling_temperature,
            steps_per_epoch=FLAGS.steps_per_epoch, pad_last_batch=FLAGS.pad_last_batch,
            steps_per_loop=FLAGS.steps_per_loop,
            smart=SmartConfig(enabled=FLAGS.smart, alpha=FLAGS.smart_alpha, steps=FLAGS.smart_steps,
                              step_size=FLAGS.smart_step_size, noise_var=FLAGS.smart_noise_var,
                              epsilon=FLAGS.smart_epsilon),
        ),
    )


def _train():
    from mtdnn_tf.errors import SettingError, as_flag_error  # noqa: PLC0415
    from mtdnn_tf.experiment import run  # noqa: PLC0415 - after flag parsing: imports TensorFlow

    try:
        settings = settings_from_flags()
    except SettingError as e:  # the library names its setting; say which flag it came from
        smart_flags = {name: f"smart_{name}" for name in ("alpha", "steps", "step_size", "noise_var", "epsilon")}
        raise as_flag_error(e, {"head_overrides": "heads", **smart_flags}) from None
    run(settings)


main = absl_main(_train, extra={NonFiniteLossError: 3})
console_main = console_script(main, __name__)  # the `mtdnn-train` command

if __name__ == "__main__":
    console_main()
