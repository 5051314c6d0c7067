"""The bad-input suite: each folder in tests/cross_cutting/bad_inputs/ is one malformed input and its exact error.

Every case runs the training command's own code path in-process (flag parsing,
then ``mtdnn_tf.train.main``), and must end with exactly one message line, no
traceback, and the expected exit status. ``test_train_cli.py`` checks
the same path in a real subprocess.
"""


import pytest
import yaml
from conftest import BAD_INPUT_FLAGS as COMMON
from conftest import BAD_INPUTS as SUITE
from conftest import REPO
from conftest import run_train_command as _run_train_command

BUILTIN = REPO / "configs" / "tasks"  # the built-in tasks, searched after --task_dir
CASES = sorted(p.name for p in SUITE.iterdir() if (p / "case.yaml").is_file())


def test_the_suite_has_at_least_twenty_cases():
    assert len(CASES) >= 20, CASES


# A case that works trains a model to its end: slow; the refusals are quick.
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n.endswith("_work") else n for n in CASES])
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
