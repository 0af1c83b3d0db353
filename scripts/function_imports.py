"""Count imports that sit inside functions (not at module top).

Usage: python scripts/function_imports.py [--list] [PATH ...]

Walks the project's Python sources (migrations, .venv and tests excluded unless a path is
given), prints the number of function-level imports, how many carry a documented
`# noqa: PLC0415 - <reason>`, and with --list each one as path:line.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "core", "accounts", "repository", "borrowing", "storage_env", "devices", "search")
SKIP_PARTS = {".venv", "migrations", "__pycache__", "node_modules", "static"}


def iter_sources(paths: list[Path]):
    for base in paths:
        files = [base] if base.is_file() else sorted(base.rglob("*.py"))
        for path in files:
            if SKIP_PARTS.intersection(path.parts):
                continue
            yield path


def function_imports(path: Path) -> list[tuple[int, bool]]:
    """(line, documented) for each import statement nested in a function body."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found: list[tuple[int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom) and in_function:
                text = lines[child.lineno - 1]
                found.append((child.lineno, "noqa: PLC0415" in text))
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            visit(child, nested)

    visit(ast.parse(source, filename=str(path)), False)
    return found


def main(argv: list[str]) -> int:
    show = "--list" in argv
    args = [a for a in argv if a != "--list"]
    paths = [Path(a) for a in args] or [ROOT / app for app in APPS]
    total = documented = 0
    for path in iter_sources(paths):
        for line, ok in function_imports(path):
            total += 1
            documented += ok
            if show:
                full = path.resolve()
                rel = full.relative_to(ROOT) if full.is_relative_to(ROOT) else path
                print(f"{rel}:{line}{'  (documented)' if ok else ''}")
    print(f"function-level imports: {total} ({documented} documented with noqa: PLC0415)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
