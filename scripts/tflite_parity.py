"""TFLite parity on real dev data: float and dynamic-range int8 models against Keras.

    python scripts/tflite_parity.py --model_dir=runs/glue_local --tflite_dir=saved_models/mtdnn_tflite/1 \
        --data_dir=../shared/glue --tasks=mrpc,rte

Prints, per task, the float model's max abs difference in probabilities and
the int8 model's label agreement with the Keras model.
"""

import argparse
import json

import numpy as np

from mtdnn_tf.data.readers import read_split
from mtdnn_tf.serving.signatures import outputs_from_model
from mtdnn_tf.serving.tflite import TFLiteRunner
from mtdnn_tf.run_directory import load_trained_model
from mtdnn_tf.models.mtdnn_model import task_model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model_dir", required=True)
    parser.add_argument("--tflite_dir", required=True)
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--tasks", default="mrpc,rte")
    args = parser.parse_args()
    trained = load_trained_model(args.model_dir)
    report = {}
    for name in args.tasks.split(","):
        task = trained.tasks[name]
        examples = read_split(task, "dev", args.data_dir)
        packed = trained.packer().pack(examples.text_a, examples.text_b)
        head = task_model(trained.model, name)
        expected, fp32, int8 = [], [], []
        float_runner = TFLiteRunner(f"{args.tflite_dir}/{name}.tflite")
        int8_runner = TFLiteRunner(f"{args.tflite_dir}/{name}.int8.tflite")
        for start in range(0, len(examples), 32):
            batch = {k: v[start:start + 32] for k, v in packed.items()}
            expected.append(outputs_from_model(task, head(batch))["probabilities"].numpy())
            fp32.append(float_runner(batch))
            int8.append(int8_runner(batch))
        expected, fp32, int8 = map(np.concatenate, (expected, fp32, int8))
        report[name] = {
            "examples": len(examples),
            "float_max_abs_diff": float(np.abs(expected - fp32).max()),
            "float_finite": bool(np.isfinite(fp32).all()),
            "int8_label_agreement": float(np.mean(expected.argmax(-1) == int8.argmax(-1))),
            "int8_finite": bool(np.isfinite(int8).all()),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
