"""A BERT-base-sized encoder (12 layers, hidden 768, length 512) training a few steps on configs/glue.flags'
task list on this CPU, and from its FLOPs a projection of one glue.flags epoch on 8 GPUs.

Random weights (no BERT-base checkpoint is offline); each of the nine GLUE tasks' heads as its YAML
says; batches of 32 drawn from the same stand-in rows as ``data_memory.py`` (real GLUE, NLI and MRPC
files), tokenised with the MiniLM vocabulary (30,522 ids, BERT-base uncased's size), bucketed as
training buckets them. Measured: the step time and the process's peak memory. Projected (not run:
no GPU here): an epoch of glue.flags' 949,733 examples, from the measured padded tokens per example
and the model's FLOPs per token, at an assumed sustained rate per GPU (``--gpu_tflops``).

    python benchmarks/paper_scale_step.py --steps=6 --json=docs/results/paper_scale_step.json
"""

import argparse
import json
import pathlib
import resource
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from data_memory import GLUE_TRAIN, SHARED  # noqa: E402
from machine import cpu_description  # noqa: E402

BERT_BASE = "num_layers=12,hidden_dim=768,num_heads=12,intermediate_dim=3072"


def encoder_flops_per_token(layers=12, hidden=768, intermediate=3072, length=128):
    """Forward multiply-adds x 2 per token of the encoder (projections, attention scores and mix, FFN)."""
    per_layer = 2 * (4 * hidden * hidden + 2 * hidden * intermediate) + 2 * 2 * length * hidden
    return layers * per_layer


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=6, help="timed steps after the first (traced) ones")
    parser.add_argument("--examples_per_task", type=int, default=64)
    parser.add_argument("--gpu_tflops", type=float, default=40.0,
                        help="assumed sustained training TFLOP/s of one GPU (mixed precision) for the projection")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import tensorflow as tf  # noqa: PLC0415

    from mtdnn_tf.data.packing import TextPacker  # noqa: PLC0415
    from mtdnn_tf.data.pipeline import bucket_lengths, pack_split  # noqa: PLC0415
    from mtdnn_tf.data.readers import read_split  # noqa: PLC0415
    from mtdnn_tf.models.backbone import load_backbone, load_tokenizer  # noqa: PLC0415
    from mtdnn_tf.tasks import load_tasks  # noqa: PLC0415
    from mtdnn_tf.training.assembly import make_trainer  # noqa: PLC0415
    from mtdnn_tf.training.train_config import TrainConfig  # noqa: PLC0415

    print(f"CPU: {cpu_description()}")
    tokenizer = load_tokenizer(vocab_file=str(SHARED / "pretrained" / "all-MiniLM-L6-v2" / "vocab.txt"))
    packer = TextPacker(tokenizer, 512)
    tasks = load_tasks(list(GLUE_TRAIN))
    train, padded_per_example = {}, {}
    buckets = bucket_lengths(512)
    for index, (name, (size, source, split_name, data_dir)) in enumerate(GLUE_TRAIN.items()):
        examples = read_split(load_tasks([source])[source], split_name, str(data_dir))
        rng = np.random.default_rng(index)
        train[name] = pack_split(packer, examples.subset(rng.integers(0, len(examples), args.examples_per_task)
                                                         .tolist()), task=tasks[name])
        # Padded tokens per example of this task's batches: length-sorted batches of 32 at their buckets.
        lengths = np.sort(packer.pack_sequences(examples.text_a, examples.text_b)[0].lengths)
        padded = [buckets[min(np.searchsorted(buckets, lengths[i:i + 32].max()), len(buckets) - 1)]
                  for i in range(0, len(lengths), 32)]
        padded_per_example[name] = float(np.mean(padded))
    config = TrainConfig(epochs=1, batch_size=32, seed=0, verbose=0, save_checkpoints=False, tensorboard_every=0)
    started = time.time()
    trainer = make_trainer(lambda: load_backbone(random_size=BERT_BASE, vocabulary_size=tokenizer.vocabulary_size(),
                                                 max_sequence_length=512), tasks, train, {}, config,
                           "/tmp/paper_scale_step", head_input="cls")
    order = config.epoch_order(train, 0)
    warm = len(GLUE_TRAIN)  # the first call traces every task's step
    trainer.run_epoch(0, stop=warm)
    print(f"model built and {warm} first steps (tracing) in {time.time() - started:.0f} s", flush=True)
    times, tokens = [], []
    for position in range(warm, min(warm + args.steps, len(order))):
        tick = time.time()
        trainer.run_epoch(0, stop=position + 1)
        times.append(time.time() - tick)
        tokens.append(32 * padded_per_example[order[position]])
        print(f"  step {position + 1} ({order[position]}): {times[-1]:.2f} s", flush=True)
    flops_per_token = 3 * encoder_flops_per_token()  # forward + backward (twice the forward)
    cpu_tflops = sum(tokens) * flops_per_token / sum(times) / 1e12
    epoch_tokens = sum(size * padded_per_example[name] for name, (size, *_) in GLUE_TRAIN.items())
    epoch_flops = epoch_tokens * flops_per_token
    report = {
        "cpu": cpu_description(),
        "measured": {"step_s_mean": round(float(np.mean(times)), 2), "steps": len(times),
                     "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                     "encoder_tflops_per_s_estimated": round(cpu_tflops, 3)},
        "glue_flags_epoch": {"examples": sum(s for s, *_ in GLUE_TRAIN.values()),
                             "padded_tokens_per_example": {k: round(v, 1) for k, v in padded_per_example.items()},
                             "encoder_pflop": round(epoch_flops / 1e15, 1)},
        "projected": {"assumed_gpu_tflops": args.gpu_tflops,
                      "epoch_hours_on_8_gpus": round(epoch_flops / (8 * args.gpu_tflops * 1e12) / 3600, 2),
                      "epoch_hours_on_this_cpu": round(epoch_flops / (cpu_tflops * 1e12) / 3600, 1)},
    }
    print(json.dumps(report, indent=2))
    if args.json:
        pathlib.Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    del tf


if __name__ == "__main__":
    main()
