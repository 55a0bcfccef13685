"""Length of the view and API functions (lines, Python ast): median, p90, max and count.

    python bench/bench_view_lengths.py            # the working tree
    python bench/bench_view_lengths.py --rev REV  # a git revision (read with `git show`)
"""
from __future__ import annotations

import argparse
import ast
import statistics
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def view_files(rev: str | None) -> dict[str, str]:
    """Every views module and API module, as text, from the tree or from a revision."""
    if rev is None:
        paths = sorted(ROOT.glob("qms/**/*views.py")) + sorted(ROOT.glob("qms/api/*.py"))
        return {str(p.relative_to(ROOT)): p.read_text() for p in paths}
    names = subprocess.run(["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", rev, "qms"],
                           check=True, capture_output=True, text=True).stdout.split()
    wanted = [n for n in names if n.endswith("views.py") or (n.startswith("qms/api/") and n.endswith(".py"))]
    return {n: subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{n}"], check=True, capture_output=True,
                              text=True).stdout for n in wanted}


def routed_function_lengths(source: str) -> list[int]:
    """Lengths of functions decorated as routes (a decorator call whose name ends in get/post/route/...)."""
    lengths = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(_is_route(d) for d in node.decorator_list):
            lengths.append(node.end_lineno - node.lineno + 1)  # type: ignore[operator]
        elif isinstance(node, ast.ClassDef) and any(_is_route(d) for d in node.decorator_list):
            lengths += [m.end_lineno - m.lineno + 1 for m in node.body  # type: ignore[operator]
                        if isinstance(m, ast.FunctionDef) and m.name in {"get", "post", "put", "patch", "delete"}]
    return lengths


def all_function_lengths(source: str) -> list[int]:
    """Lengths of every function and method in a module (helpers included)."""
    return [node.end_lineno - node.lineno + 1 for node in ast.walk(ast.parse(source))  # type: ignore[operator]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]


def _summary(lengths: list[int]) -> str:
    lengths = sorted(lengths)
    return (f"{len(lengths)} functions, median {statistics.median(lengths):.0f} lines, "
            f"p90 {lengths[int(0.9 * (len(lengths) - 1))]}, max {lengths[-1]}")


def _is_route(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
    return name in {"get", "post", "put", "patch", "delete", "route"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rev", help="a git revision instead of the working tree")
    args = parser.parse_args()
    files = view_files(args.rev)
    lines = sum(len(text.splitlines()) for text in files.values())
    print(f"{args.rev or 'working tree'}: {len(files)} view and API modules, {lines} lines")
    print("  routed views:  " + _summary([n for text in files.values() for n in routed_function_lengths(text)]))
    print("  all functions: " + _summary([n for text in files.values() for n in all_function_lengths(text)]))


if __name__ == "__main__":
    main()
