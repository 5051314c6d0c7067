"""The bad-input suite: each folder in tests/bad_inputs/ is one malformed input and its exact error.

Every case runs the training command's own code path in-process (flag parsing,
then ``mtdnn_tf.train.main``), and must end with exactly one message line, no
traceback, and the expected exit status. ``tests/test_train_cli.py`` checks
the same path in a real subprocess.
"""


import pytest
import yaml
from absl import flags

from conftest import REPO

SUITE = REPO / "tests" / "bad_inputs"
BUILTIN = REPO / "configs" / "tasks"  # the built-in tasks, searched after --task_dir
CASES = sorted(p.name for p in SUITE.iterdir() if (p / "case.yaml").is_file())
COMMON = [
    f"--task_dir={SUITE / 'tasks'}",
    f"--vocab_file={SUITE / 'vocab.txt'}",
    "--random_backbone=num_layers=1,hidden_dim=16,num_heads=2,intermediate_dim=32,max_sequence_length=64",
    "--max_seq_length=32", "--epochs=1", "--batch_size=2", "--verbose=0",
]


def _run_train_command(argv, capsys):
    """What `python -m mtdnn_tf.train <argv>` prints on stderr, and its exit status."""
    import mtdnn_tf.train as train_command

    FLAGS = flags.FLAGS
    FLAGS.unparse_flags()
    try:
        FLAGS(["mtdnn_tf.train", *argv])
    except flags.Error as e:  # absl's app.run prints this and exits 1
        return f"FATAL Flags parsing error: {e}", 1
    try:
        code = train_command.main(["mtdnn_tf.train"])
    except SystemExit as e:
        code = e.code
    finally:
        FLAGS.unparse_flags()
    return capsys.readouterr().err, code


def test_the_suite_has_at_least_twenty_cases():
    assert len(CASES) >= 20, CASES


@pytest.mark.parametrize("name", CASES)
def test_bad_input_case(name, tmp_path, capsys):
    folder = SUITE / name
    case = yaml.safe_load((folder / "case.yaml").read_text(encoding="utf-8"))
    model_dir = tmp_path / "model"
    fill = {"case": str(folder), "model_dir": str(model_dir), "tasks": str(SUITE / "tasks"),
            "known": ", ".join(sorted({p.stem for d in (SUITE / "tasks", BUILTIN) for p in d.glob("*.yaml")}))}
    argv = [*COMMON, f"--data_dir={folder}", f"--model_dir={model_dir}", *[a.format(**fill) for a in case["flags"]]]
    stderr, code = _run_train_command(argv, capsys)
    if case["error"] is None:  # inputs that must just work (e.g. CRLF line ends)
        assert code == 0, stderr
        assert (model_dir / "model.keras").is_file()
        return
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    assert lines == [case["error"].format(**fill)]
    assert code == (1 if lines[0].startswith("FATAL") else 2)
    assert not (model_dir / "model.keras").exists()
