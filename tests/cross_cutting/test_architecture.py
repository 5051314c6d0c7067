"""The package's dependency graph, written down once (here; the README draws it from ``GRAPH``) and enforced.

Each node is a top-level module or subpackage of ``mtdnn_tf``; its entry lists
the nodes it may import, at module level or inside functions. The test fails
for an import the graph does not allow and for an allowed edge nothing uses
any more, so the graph stays the code's. ``mtdnn_tf/__init__.py`` is the
composition root (it imports what registers itself) and is not a node.
"""

import ast

import pytest
from conftest import REPO

PACKAGE = REPO / "mtdnn_tf"

LEAVES = ("errors", "registry", "features", "progress", "hardware", "quiet_start")
GRAPH = {
    # Leaves: the shared vocabulary (features, registries, errors) and small utilities.
    **{leaf: set() for leaf in LEAVES},
    "atomic_files": {"errors"},
    "settings": {"errors"},  # settings that are pure data (SMART's) and setting(), the field flags are made from
    # Task definitions are data: they name their type and head kind, resolved through the registries.
    "tasks": {"errors", "registry", "settings"},
    "losses": {"features"},
    "metrics": set(),
    "models": {"errors", "registry", "features"},
    "data": {"errors", "atomic_files", "progress", "features", "models"},
    "task_types": {"data", "features", "losses", "metrics", "progress", "registry"},
    "inference": {"data", "models", "progress"},  # batched prediction and evaluation
    "run_directory": {"atomic_files", "data", "errors", "tasks"},
    "training": {"atomic_files", "data", "errors", "hardware", "inference", "losses", "metrics", "models",
                 "progress", "registry", "run_directory", "settings"},
    "serving": {"atomic_files", "data", "errors", "features", "inference", "models", "run_directory"},
    # Compositions: one run, a study of runs.
    "experiment": {"data", "errors", "metrics", "models", "run_directory", "settings", "tasks", "training"},
    "run_command": {"experiment", "settings", "training"},
    "studies": {"atomic_files", "data", "errors", "experiment", "hardware", "metrics", "models", "run_command",
                "settings", "tasks", "training"},
    # Entry modules.
    "cli": {"errors", "settings"},
    "train": {"cli", "errors", "experiment", "run_command", "settings", "training"},
    "predict": {"cli", "serving"},
    "export": {"cli", "errors", "run_directory", "serving"},
    "study": {"cli", "errors", "run_command", "studies"},
}


def node_of(path):
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def imported_nodes(path):
    """Every ``mtdnn_tf`` node a file imports, at module level or inside functions, with the line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module == "mtdnn_tf":
            names = [f"mtdnn_tf.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mtdnn_tf."):
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names if alias.name.startswith("mtdnn_tf.")]
        for name in names:
            yield name.split(".")[1], node.lineno


def _sources():
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def actual_edges():
    edges = {}
    for path in _sources():
        source = node_of(path)
        for target, line in imported_nodes(path):
            if target != source:
                edges.setdefault((source, target), []).append(f"{path.relative_to(PACKAGE)}:{line}")
    return edges


def render_graph():
    """The graph as the README draws it: one line per node, ``node -> its dependencies``."""
    return "\n".join(f"{node} -> {', '.join(sorted(deps)) or '(nothing)'}" for node, deps in GRAPH.items())


def test_every_module_is_a_node():
    nodes = {node_of(p) for p in _sources()}
    assert nodes == set(GRAPH), nodes ^ set(GRAPH)


def test_the_graph_has_no_cycle():
    visiting, done = set(), set()

    def visit(node, trail):
        assert node not in visiting, " -> ".join(trail + [node])
        if node in done:
            return
        visiting.add(node)
        for dep in GRAPH[node]:
            visit(dep, trail + [node])
        visiting.discard(node)
        done.add(node)

    for node in GRAPH:
        visit(node, [])


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_follow_the_graph(path):
    source = node_of(path)
    outside = [f"line {line}: mtdnn_tf.{target}" for target, line in imported_nodes(path)
               if target != source and target not in GRAPH[source]]
    assert outside == [], f"{source} may import only {sorted(GRAPH[source])}"


def test_every_allowed_edge_is_used():
    used = set(actual_edges())
    unused = sorted((s, t) for s, deps in GRAPH.items() for t in deps if (s, t) not in used)
    assert unused == [], "edges the code no longer has: drop them from GRAPH"


def test_the_readme_draws_this_graph():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert render_graph() in readme, "regenerate the README's graph: python -c " \
        "'import sys; sys.path[:0] = [\"tests\", \"tests/cross_cutting\"]; import test_architecture as t; print(t.render_graph())'"


def test_the_checker_sees_function_level_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from mtdnn_tf.serving.saved_model import export_saved_model\n"
                      "    from mtdnn_tf import task_types\n")
    assert list(imported_nodes(sample)) == [("serving", 2), ("task_types", 3)]
