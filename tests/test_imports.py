"""The import structure of `qms` and `ballistics`: every module imports alone, no cycles, ballistics stays apart.

Importing each module alone catches a module that works only because another one happened to be
imported first (the symptom of a cycle held together by import order). A fresh interpreter per
module costs about a second of CPU each (Flask, SQLAlchemy, NumPy, OpenCV...) and there are more
than a hundred modules, so one probe interpreter first imports the third-party modules the
package uses, none of ours, and then forks one child per module: each child starts with no module
of `qms` or `ballistics` loaded, exactly as a fresh interpreter would.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("qms", "ballistics")
WEB = ("flask", "sqlalchemy", "flask_sqlalchemy", "qms")

PROBE = r"""
import ast, importlib, json, os, pathlib, sys, traceback

package, modules = sys.argv[1], sys.argv[2:]
OURS = {"qms", "ballistics", "audits", "sop_library"}


def third_party(package):
    names = set()
    for path in pathlib.Path(package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_bytes())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return sorted(name for name in names if name.split(".")[0] not in OURS and name != "__future__")


for name in third_party(package):
    try:
        importlib.import_module(name)
    except Exception:  # an optional extra that is not installed: the child reports it if it matters
        pass
assert not [m for m in sys.modules if m.split(".")[0] in OURS], "the probe must not preload our modules"


def child(module):
    try:
        importlib.import_module(module)
        error = None
    except BaseException:
        error = traceback.format_exc(limit=-8)[-4000:]
    web = sorted(m for m in sys.modules if m.split(".")[0] in ("flask", "sqlalchemy", "flask_sqlalchemy", "qms"))
    return {"module": module, "error": error, "web": web}


running, results, pool = {}, [], 2
queue = list(modules)
while queue or running:
    while queue and len(running) < pool:
        module = queue.pop(0)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            with os.fdopen(write, "w") as out:
                json.dump(child(module), out)
            os._exit(0)
        os.close(write)
        running[pid] = (module, read)
    pid, status = os.wait()
    module, read = running.pop(pid)
    with os.fdopen(read) as handle:
        text = handle.read()
    results.append(json.loads(text) if text else {"module": module, "error": f"child died: {status}", "web": []})
print(json.dumps(results))
"""


def _graph() -> grimp.ImportGraph:
    # Imports inside functions count: a cycle held by a lazy import is still a cycle.
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def _modules(package: str) -> list[str]:
    return sorted(m for m in _graph().modules if m.split(".")[0] == package)


def _import_each_alone(package: str) -> list[dict]:
    done = subprocess.run([sys.executable, "-c", PROBE, package, *_modules(package)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_imports_alone_in_a_fresh_interpreter(package: str) -> None:
    results = _import_each_alone(package)
    assert len(results) == len(_modules(package)) > 10
    failed = {r["module"]: r["error"] for r in results if r["error"]}
    assert not failed, "\n\n".join(f"{module} does not import alone:\n{error}" for module, error in failed.items())
    if package == "ballistics":
        loaded = {r["module"]: r["web"] for r in results if r["web"]}
        assert not loaded, f"ballistics modules load the web application or its database layer: {loaded}"


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each as one cycle through them."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[list[str]] = []

    def visit(module: str) -> None:  # recursion depth is bounded by the module count (~100)
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in edges[module]:
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for module in edges:
        if module not in index:
            visit(module)
    return [_one_cycle(graph, component) for component in components]


def _one_cycle(graph: grimp.ImportGraph, component: list[str]) -> list[str]:
    """A readable cycle through the component: its first module, round to itself (with the lines)."""
    start = component[0]
    back = next(m for m in component if graph.direct_import_exists(importer=m, imported=start))
    chain = graph.find_shortest_chain(importer=start, imported=back) if back != start else (start,)
    modules = [*chain, start]
    return [f"{a} (line {_line(graph, a, b)})" for a, b in zip(modules, modules[1:])] + [start]


def _line(graph: grimp.ImportGraph, importer: str, imported: str) -> int:
    return graph.get_import_details(importer=importer, imported=imported)[0]["line_number"]


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in cycles)


def test_ballistics_imports_nothing_of_flask_sqlalchemy_or_qms() -> None:
    # Statically, so an import inside a function counts too; the import test above checks it at run time.
    graph = grimp.build_graph("ballistics", "qms", cache_dir=None, include_external_packages=True)
    for forbidden in WEB:
        if forbidden not in graph.modules:
            continue
        chains = graph.find_shortest_chains(importer="ballistics", imported=forbidden, as_packages=True)
        assert not chains, f"ballistics imports {forbidden}: {sorted(chains)}"
