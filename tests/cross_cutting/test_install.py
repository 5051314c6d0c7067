"""The package works as users install it: from a wheel, outside the checkout, with its console scripts."""

import os
import shutil
import site
import subprocess
import sys

import pytest
from conftest import REPO, tiny_backbone

QUIET = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.mark.slow
def test_import_mtdnn_tf_registers_the_layers_a_saved_model_needs(demo_tasks, demo_tokenizer, tmp_path):
    from mtdnn_tf.models.mtdnn_model import build_mtdnn_model

    tasks = {n: demo_tasks[n] for n in ("demo_pair", "demo_similarity")}  # SAN and linear heads
    build_mtdnn_model(tiny_backbone(demo_tokenizer.vocabulary_size()), tasks, "mean").save(tmp_path / "m.keras")
    load = f"import keras; keras.saving.load_model({str(tmp_path / 'm.keras')!r}); print('loaded')"
    # A fresh process: nothing of mtdnn_tf imported but the package itself.
    plain = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, env=QUIET, cwd=tmp_path)
    assert plain.returncode != 0 and "Could not locate class" in plain.stderr  # why the import matters
    done = subprocess.run([sys.executable, "-c", "import mtdnn_tf; " + load], capture_output=True, text=True,
                          env=QUIET, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "loaded", done.stderr[-2000:]


MY_TASK = """name: my_task
description: "A user's own task, next to the built-in ones"
type: classification
input: single
labels: [negative, positive]
metrics: [accuracy]
files:
  dir: demo_sentiment
  splits:
    train: {file: train.tsv, text_a: sentence, label: label, id: index}
    dev: {file: dev.tsv, text_a: sentence, label: label, id: index}
"""


@pytest.mark.slow
def test_a_built_wheel_trains_from_another_directory(tmp_path):
    """pip install of a wheel (not editable) into a fresh virtual environment, run away from the checkout.

    The environment reuses this interpreter's packages (TensorFlow and the
    rest) but holds its own copy of mtdnn_tf, so only the wheel's files count.
    """
    source = tmp_path / "source"
    shutil.copytree(REPO, source, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", "runs", "build", "dist", "*.egg-info", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("mtdnn_tf-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    # --system-site-packages shows the base interpreter's packages; run from inside a virtual environment
    # (as most users run), this interpreter's own are its site-packages: list them after the new env's.
    own = venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    (own / "running_environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True)
    shutil.rmtree(source)  # nothing may come from the checkout's copy

    work = tmp_path / "elsewhere"
    (work / "my_tasks").mkdir(parents=True)
    (work / "my_tasks" / "my_task.yaml").write_text(MY_TASK)
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import mtdnn_tf; print(mtdnn_tf.__file__)"],
                           capture_output=True, text=True, env=QUIET, cwd=work)
    assert where.stdout.strip().startswith(str(venv)), where.stdout + where.stderr[-2000:]
    train = subprocess.run(
        [str(venv / "bin" / "mtdnn-train"), "--tasks=demo_sentiment,my_task", "--task_dir=my_tasks",
         "--generate_demo_data", "--data_dir=data", "--model_dir=model", "--random_backbone=tiny",
         "--max_seq_length=32", "--epochs=1", "--verbose=0"],
        capture_output=True, text=True, env=QUIET, cwd=work, timeout=600)
    assert train.returncode == 0, train.stderr[-3000:]
    assert "my_task" in train.stdout and (work / "model" / "model.keras").is_file()
    predict = subprocess.run([str(venv / "bin" / "mtdnn-predict"), "--model_dir=model", "--split=dev",
                              "--data_dir=data", "--tasks=my_task"], capture_output=True, text=True, env=QUIET, cwd=work)
    assert predict.returncode == 0, predict.stderr[-3000:]
    assert (work / "model" / "predictions" / "my_task.dev.tsv").is_file()
    # Each console script's help is its own: the module's description and flags, exit status 0.
    for option in ("--help", "--helpshort"):
        shown = subprocess.run([str(venv / "bin" / "mtdnn-train"), option], capture_output=True, text=True,
                               env=QUIET, cwd=work)
        assert shown.returncode == 0, (option, shown.stderr[-2000:])
        assert shown.stdout.startswith("Command line: train an MT-DNN model.") and "--tasks:" in shown.stdout, option
    for command, flag in (("mtdnn-export", "--export_dir"), ("mtdnn-study", "--study_dir")):
        usage = subprocess.run([str(venv / "bin" / command), "--helpfull"], capture_output=True, text=True,
                               env=QUIET, cwd=work)
        assert flag in usage.stdout, (command, usage.stderr[-2000:])  # absl exits 1 after help
