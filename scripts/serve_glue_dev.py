"""Scores a GLUE dev file through an exported SavedModel signature, without mtdnn_tf.

Checks what a serving client sees: raw text in, labels out, in a process that
imports only TensorFlow (and tensorflow_text for the WordPiece ops).

    python scripts/serve_glue_dev.py saved_models/mtdnn/1 mrpc ../shared/glue/MRPC/dev.tsv \
        --text_a="#1 String" --text_b="#2 String" --label=Quality

Prints the accuracy (classification) or Pearson correlation (regression) as JSON.
"""

import argparse
import json
import sys

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401 - registers the WordPiece ops


def read_columns(path, names):
    with open(path, encoding="utf-8-sig") as f:
        rows = [line.rstrip("\r\n").split("\t") for line in f if line.strip()]
    header, rows = rows[0], rows[1:]
    return [[row[header.index(n)] for row in rows] for n in names]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("export_dir")
    parser.add_argument("signature")
    parser.add_argument("tsv")
    parser.add_argument("--text_a", required=True)
    parser.add_argument("--text_b")
    parser.add_argument("--label", required=True)
    parser.add_argument("--batch_size", type=int, default=64)
    args = parser.parse_args()
    names = [args.text_a] + ([args.text_b] if args.text_b else []) + [args.label]
    columns = read_columns(args.tsv, names)
    labels = columns[-1]
    serve = tf.saved_model.load(args.export_dir).signatures[args.signature]
    keys = ["sentence1", "sentence2"] if args.text_b else ["sentence"]
    outputs = []
    for start in range(0, len(labels), args.batch_size):
        batch = {k: tf.constant(c[start:start + args.batch_size]) for k, c in zip(keys, columns[:-1])}
        outputs.append(serve(**batch))
    if "label" in outputs[0]:
        predicted = [v.decode() for o in outputs for v in o["label"].numpy()]
        result = {"accuracy": float(np.mean([p == y for p, y in zip(predicted, labels)]))}
    else:
        scores = np.concatenate([o["score"].numpy() for o in outputs])
        result = {"pearson": float(np.corrcoef(scores, np.asarray(labels, float))[0, 1])}
    result["examples"] = len(labels)
    result["mtdnn_tf_imported"] = any(m.startswith("mtdnn_tf") for m in sys.modules)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
