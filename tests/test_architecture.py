"""The layering the README's Architecture section describes: lower layers never import upper ones."""

import ast
import pathlib

import pytest

from conftest import REPO

PACKAGE = REPO / "mtdnn_tf"
# Building blocks: know nothing of runs, serving or studies.
LOWER = {"data", "models", "tasks", "task_types", "training", "losses", "metrics", "registry", "errors", "hardware",
         "atomic_files", "run_directory", "progress", "quiet_start"}
# What composes them: one run, export and prediction, studies, and the command-line entry modules.
UPPER = {"experiment", "run_command", "serving", "studies", "train", "predict", "export", "study", "cli"}


def _top_level(path):
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def _imported_modules(path):
    """Every ``mtdnn_tf.<x>`` a file imports, at module level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mtdnn_tf."):
            yield node.module.split(".")[1], node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("mtdnn_tf."):
                    yield alias.name.split(".")[1], node.lineno


def test_every_top_level_module_is_in_a_layer():
    tops = {_top_level(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    assert tops == LOWER | UPPER, tops ^ (LOWER | UPPER)


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py") if _top_level(p) in LOWER),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_lower_layers_do_not_import_upper_ones(path):
    upward = [f"line {line}: mtdnn_tf.{top}" for top, line in _imported_modules(path) if top in UPPER]
    assert upward == []


def test_the_checker_sees_function_level_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from mtdnn_tf.serving.saved_model import export_saved_model\n")
    assert list(_imported_modules(sample)) == [("serving", 2)]
