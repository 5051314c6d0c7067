"""Command line: predict with a trained model; write GLUE submission files and metrics.

    python -m mtdnn_tf.predict --model_dir=runs/glue_local --tasks=rte,mrpc,stsb \
        --split=test --data_dir=../shared/glue --output_dir=runs/glue_local/submission
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

from absl import flags  # noqa: E402

from mtdnn_tf.cli import absl_main, console_script  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "model_dir of a finished training run.")
flags.DEFINE_list("tasks", [], "Tasks to predict (default: every task of the model).")
flags.DEFINE_string("split", "test", "Split to predict, as named in the task YAML (test, dev, test_matched, ...).")
flags.DEFINE_string("data_dir", None, "Root of the task files (or the tfds data_dir).")
flags.DEFINE_enum("data_source", "files", ["files", "tfds"], "Read task files, or tensorflow-datasets.")
flags.DEFINE_string("output_dir", None, "Where the .tsv files and predict_metrics.json go (default: <model_dir>/predictions).")
flags.DEFINE_integer("batch_size", 64, "Prediction batch size.", lower_bound=1)
flags.mark_flags_as_required(["model_dir"])


def _predict():
    from mtdnn_tf.serving.predict_run import predict_splits  # noqa: PLC0415 - imports TensorFlow

    predict_splits(FLAGS.model_dir, FLAGS.tasks, FLAGS.split, FLAGS.data_dir, FLAGS.data_source,
                   FLAGS.output_dir, FLAGS.batch_size)


main = absl_main(_predict)
console_main = console_script(main, __name__)  # the `mtdnn-predict` command

if __name__ == "__main__":
    console_main()
