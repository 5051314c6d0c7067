"""A CPU-only start prints no TensorFlow C++ start-up notes (``mtdnn_tf/quiet_start.py``); other lines pass."""

import os
import subprocess
import sys

import pytest

from mtdnn_tf.quiet_start import is_startup_noise

# Lines TensorFlow 2.21 writes at import and device lookup on a machine without a GPU.
NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796186245.760705   17858 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders.",
    "I0000 00:00:1796186245.761012   17858 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will "
    "not be used.",
    "E0000 00:00:1796186249.846780   17858 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: Failed "
    "call to cuInit: UNKNOWN ERROR (303)",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild TensorFlow with the "
    "appropriate compiler flags.",
]


def test_the_start_up_notes_are_recognised_and_real_errors_are_not():
    assert all(is_startup_noise(line) for line in NOISE)
    assert not is_startup_noise("E0000 00:00:1796186249.846780   17858 op_kernel.cc:1857] OP_REQUIRES failed")
    assert not is_startup_noise("UserWarning: something the user should see")
    assert not is_startup_noise("error: --model_dir: runs/x lacks model.keras")


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("MTDNN_TF_VERBOSE_START", "TF_CPP_MIN_LOG_LEVEL")}
    return {**env, **extra}


@pytest.mark.slow
def test_importing_the_package_and_a_failing_command_print_only_what_matters(tmp_path):
    imported = subprocess.run([sys.executable, "-c", "import mtdnn_tf"], capture_output=True, text=True,
                              env=_env(), timeout=300)
    assert imported.returncode == 0 and imported.stderr == ""
    failed = subprocess.run([sys.executable, "-m", "mtdnn_tf.predict", f"--model_dir={tmp_path}", "--split=dev"],
                            capture_output=True, text=True, env=_env(), timeout=300)
    assert failed.returncode == 2
    assert failed.stderr.splitlines() == [f"error: --model_dir: {tmp_path} lacks model.keras, tokenizer.json, "
                                          "run_settings.json; is it the model_dir of a finished `python -m "
                                          "mtdnn_tf.train` run?"]
    verbose = subprocess.run([sys.executable, "-c", "import mtdnn_tf"], capture_output=True, text=True,
                             env=_env(MTDNN_TF_VERBOSE_START="1"), timeout=300)
    assert any(is_startup_noise(line) for line in verbose.stderr.splitlines())  # asked for: shown
