"""Optional dependencies: say which extra to install instead of failing with an ImportError."""

from __future__ import annotations

import importlib.util
import sys

SERVER = ("sqlalchemy", "alembic", "fastapi", "uvicorn", "jinja2", "multipart")


def missing(modules: tuple[str, ...]) -> list[str]:
    """The modules of ``modules`` that cannot be imported here."""
    return [m for m in modules if importlib.util.find_spec(m) is None]


def require(command: str, modules: tuple[str, ...] = SERVER, extra: str = "server") -> bool:
    """True when ``modules`` are importable; otherwise explain on stderr what to install and return False."""
    absent = missing(modules)
    if absent:
        print(f"veracity {command}: needs {', '.join(absent)}: pip install 'veracity[{extra}]'", file=sys.stderr)
        return False
    return True
