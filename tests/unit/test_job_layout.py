"""The main job calls the core API: no operator registry, no App-only imports."""

import ast
from pathlib import Path

import classlab.job

JOB = Path(classlab.job.__file__).parent
MODULES = sorted(JOB.glob("*.py"))
FORBIDDEN_CALLS = {"execute_operator", "run_operator"}


def _called_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return names


def test_the_job_has_its_modules():
    names = {p.name for p in MODULES}
    assert {"workflow.py", "runner.py", "memory.py", "cli.py", "plugin.py"} <= names


def test_no_module_of_the_job_calls_operators():
    for path in MODULES:
        tree = ast.parse(path.read_text(), str(path))
        calls = {_called_name(n) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        assert not calls & FORBIDDEN_CALLS, f"{path.name} calls {calls & FORBIDDEN_CALLS}"
        defs = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert not defs & FORBIDDEN_CALLS, f"{path.name} defines {defs & FORBIDDEN_CALLS}"
        bad = [m for m in _imports(tree) if m.startswith("fiftyone.operators")]
        assert not bad, f"{path.name} imports {bad}"
        text = path.read_text()
        assert "execute_operator" not in text and 'classlab.progress"' not in text, path.name


def test_the_check_sees_an_operator_call():
    # the test above must be able to fail: the same walk on code that calls operators
    code = "import fiftyone.operators as foo\nfoo.execute_operator('x', ctx={})\nrun_operator('y')"
    tree = ast.parse(code)
    calls = {_called_name(n) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert calls >= FORBIDDEN_CALLS
    assert _imports(tree) == ["fiftyone.operators"]


def test_modules_stay_small():
    for path in MODULES:
        assert len(path.read_text().splitlines()) < 400, path.name
