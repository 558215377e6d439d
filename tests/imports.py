"""What a source file imports, read from its syntax tree (the layout and packaging tests)."""

import ast
from pathlib import Path


def imported_names(path: Path) -> set[str]:
    """Absolute module names a file imports, lazy (in-function) imports included."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # from models import data
    return names
