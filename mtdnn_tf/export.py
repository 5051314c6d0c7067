"""Command line: export a trained model for serving.

    # One SavedModel, a signature per task on raw text, for TF Serving:
    python -m mtdnn_tf.export --model_dir=runs/glue_local --export_dir=saved_models/mtdnn/1

    # The same on token ids, core TensorFlow ops only (any TF Serving build):
    python -m mtdnn_tf.export --inputs=token_ids --model_dir=runs/glue_local --export_dir=saved_models/mtdnn_ids/1

    # The same with the encoder in bfloat16, for batches on CPUs with AVX-512 BF16 or AMX (not with
    # --jit_compile: XLA does not run bfloat16 products natively on CPUs; docs/speed.md):
    python -m mtdnn_tf.export --inputs=token_ids --precision=bfloat16 --model_dir=runs/glue_local \
        --export_dir=saved_models/mtdnn_ids_bf16/1

    # One .tflite per task on token ids (+ vocabulary.txt), optionally int8-quantised too:
    python -m mtdnn_tf.export --format=tflite --quantize --model_dir=runs/glue_local \
        --export_dir=saved_models/mtdnn_tflite/1

    # The trained encoder for others to start from: a keras-hub preset (any family; the heads beside it
    # under mtdnn/), or a Hugging Face BertModel directory (BERT encoders):
    python -m mtdnn_tf.export --format=keras_hub_preset --model_dir=runs/glue_local --export_dir=presets/mtdnn
    python -m mtdnn_tf.export --format=hugging_face --model_dir=runs/glue_local --export_dir=hf/mtdnn
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is first imported

from absl import flags  # noqa: E402

from mtdnn_tf.cli import absl_main, console_script  # noqa: E402
from mtdnn_tf.errors import UserInputError  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("model_dir", None, "model_dir of a finished training run.")
flags.DEFINE_string("export_dir", None, "Version folder to write, e.g. saved_models/mtdnn/1.")
flags.DEFINE_enum("format", "saved_model", ["saved_model", "tflite", "onnx", "keras_hub_preset", "hugging_face"],
                  "What to export: a SavedModel, TFLite or ONNX models for serving, or the trained encoder as a "
                  "keras-hub preset directory or a Hugging Face BertModel directory.")
flags.DEFINE_enum("inputs", "text", ["text", "token_ids"], "SavedModel signatures on raw text (tokenised in "
                  "the graph; needs TensorFlow Text's ops) or on token ids (core ops only, any model server).")
flags.DEFINE_bool("jit_compile", False, "SavedModel: compile each task's model with XLA (lower latency on CPUs; "
                  "each new input shape compiles at its first request, so warm the server up).")
flags.DEFINE_enum("precision", "float32", ["float32", "bfloat16"], "SavedModel: the encoder's weights and "
                  "products in float32, or in bfloat16 (half the size; more pairs per second in batches on CPUs "
                  "with bfloat16 units: AVX-512 BF16 or AMX); the heads stay float32.")
flags.DEFINE_string("default_task", None, "Task served as serving_default (default: the first task).")
flags.DEFINE_integer("seq_length", None, "TFLite: a fixed input length (default: dynamic, each request at its "
                     "own length up to the model's max_seq_length).", lower_bound=3)
flags.DEFINE_bool("quantize", False, "TFLite and ONNX: also write dynamic int8 models (<task>.int8.tflite, "
                  "<task>.int8.onnx).")
flags.DEFINE_bool("overwrite", False, "Replace an existing export_dir.")
flags.mark_flags_as_required(["model_dir", "export_dir"])


def _export():
    if FLAGS.precision != "float32" and FLAGS.format != "saved_model":
        raise UserInputError(f"--precision={FLAGS.precision} is for --format=saved_model; TFLite and ONNX "
                             "exports take --quantize for int8 models")
    from mtdnn_tf.run_directory import load_trained_model  # noqa: PLC0415

    trained = load_trained_model(FLAGS.model_dir)
    if FLAGS.format == "saved_model":
        from mtdnn_tf.serving.saved_model import export_saved_model  # noqa: PLC0415

        export_saved_model(trained, FLAGS.export_dir, FLAGS.default_task, FLAGS.overwrite, inputs=FLAGS.inputs,
                           jit_compile=FLAGS.jit_compile, precision=FLAGS.precision)
    elif FLAGS.format == "tflite":
        from mtdnn_tf.serving.tflite import export_tflite  # noqa: PLC0415

        export_tflite(trained, FLAGS.export_dir, FLAGS.seq_length, FLAGS.quantize, FLAGS.overwrite)
    elif FLAGS.format == "onnx":
        from mtdnn_tf.serving.onnx_export import export_onnx  # noqa: PLC0415

        export_onnx(trained, FLAGS.export_dir, FLAGS.quantize, FLAGS.overwrite)
    else:
        from mtdnn_tf.serving import encoder_export  # noqa: PLC0415

        write = {"keras_hub_preset": encoder_export.export_keras_hub_preset,
                 "hugging_face": encoder_export.export_hugging_face}[FLAGS.format]
        write(trained, FLAGS.export_dir, FLAGS.overwrite)
    print(f"Exported {FLAGS.format} for tasks {', '.join(trained.tasks)} to {FLAGS.export_dir}")


main = absl_main(_export)


console_main = console_script(main, __name__)  # the `mtdnn-export` command

if __name__ == "__main__":
    console_main()
