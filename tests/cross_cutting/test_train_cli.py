"""The command line as a user meets it: one-line errors, and a short real run."""

import subprocess
import sys

import pytest
from conftest import REPO


def _train(*args, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "mtdnn_tf.train", *args],
        cwd=REPO, capture_output=True, text=True, timeout=timeout,
    )


def _one_line_error(result, code=2):
    """The one error line; ``code``: 2 for our errors, 1 for absl's flag-parsing errors."""
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith(("error:", "FATAL"))]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize(
    "flag, message, code",
    [
        ("--batch_size=-4", "error: --batch_size: must be at least 1, got -4", 2),  # TrainConfig's check
        ("--head_input=first", "FATAL Flags parsing error: flag --head_input=first: value should be one of", 1),
    ],
)
@pytest.mark.slow
def test_bad_flag_values_are_one_line(flag, message, code, tmp_path):
    # In a real process; test_bad_inputs.py runs many more flag and file cases in-process.
    result = _train("--tasks=rte", f"--model_dir={tmp_path}", flag)
    assert _one_line_error(result, code).startswith(message)


@pytest.mark.slow
def test_demo_run_and_user_errors(tmp_path):
    from mtdnn_tf.data.synthetic import write_demo_suite

    data = tmp_path / "data"
    write_demo_suite(data, train_size=320, dev_size=80)  # smaller than the demo's; --generate_demo_data keeps it
    base = ["--flagfile=configs/demo.flags", f"--data_dir={data}", "--verbose=0"]
    result = _train(*base, f"--model_dir={tmp_path / 'model'}", "--epochs=1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Final dev metrics" in result.stdout and "demo_similarity  dev    pearson" in result.stdout
    assert (tmp_path / "model" / "model.keras").is_file()
    assert (tmp_path / "model" / "metrics.json").is_file()

    vocab = f"--vocab_file={data / 'vocab.txt'}"
    missing = _train("--tasks=rte", f"--model_dir={tmp_path / 'm2'}", f"--data_dir={data}",
                     "--random_backbone=tiny", vocab)
    assert _one_line_error(missing) == f"error: {data / 'RTE' / 'train.tsv'}: file not found"
    # test_bad_inputs.py covers many more cases in-process.
