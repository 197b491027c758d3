"""``veracity serve`` and ``veracity token``: the command-line side of the web UI, kept light.

The parser is built on every ``veracity`` call, so this module imports nothing heavy; FastAPI, uvicorn and
SQLAlchemy are imported only when ``serve`` or ``token`` runs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

from .. import extras


def _size(text: str) -> int:
    m = re.fullmatch(r"(\d+)\s*([kmg]?)i?b?", text.strip().lower())
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2)]


def _data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "veracity" / "server"


def register(subparsers) -> Callable[[argparse.Namespace], int]:
    """Add ``serve`` to ``veracity``'s subparsers; returns the handler ``run(args) -> int``."""
    p = subparsers.add_parser("serve", help="web UI and REST API over the store (SQLite by default, no set-up)",
                              description="Serve the web UI and REST API. With an empty store, an admin token is "
                                          "created and printed once.")
    p.add_argument("--db", default=None, metavar="URL", help="store URL or file (default: the user data dir)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--data-dir", type=Path, default=None, help="uploaded images and the server secret")
    p.add_argument("--max-upload", type=_size, default=512 << 20, metavar="SIZE", help="largest upload (512M)")
    p.add_argument("--register-root", type=Path, action="append", default=[], metavar="DIR",
                   help="admins may register server paths under DIR (repeatable; default: none)")
    p.add_argument("--workers", type=int, default=1, help="parallel scans")
    p.set_defaults(handler=run)
    return run


def run(args: argparse.Namespace) -> int:
    if not extras.require("serve"):
        return 3
    import uvicorn

    from ..inventory import default_cache_path
    from ..store import Store
    from .app import Settings, create_app

    store = Store(args.db)
    data_dir = args.data_dir or _data_dir()
    data_dir.mkdir(parents=True, exist_ok=True)
    if not store.has_tokens():
        token = store.create_token("admin (first start)", admin=True)
        print(f"veracity: created an admin token (shown once): {token}", file=sys.stderr)
    settings = Settings(data_dir=data_dir, max_upload=args.max_upload, register_roots=tuple(args.register_root),
                        workers=args.workers, cache_path=default_cache_path())
    app = create_app(store, settings)
    print(f"veracity: serving http://{args.host}:{args.port}/ (store {store.engine.url.render_as_string()})",
          file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def register_token(subparsers) -> Callable[[argparse.Namespace], int]:
    """Add ``token`` (create, list) to ``veracity``'s subparsers; returns the handler."""
    p = subparsers.add_parser("token", help="API tokens of the web UI and REST API")
    p.add_argument("--db", default=None, metavar="URL", help="store URL or file (default: the user data dir)")
    sub = p.add_subparsers(dest="token_command", metavar="ACTION")
    c = sub.add_parser("create", help="create a token and print it (only its hash is kept)")
    c.add_argument("name", help="who or what the token is for")
    c.add_argument("--admin", action="store_true", help="may register server paths")
    sub.add_parser("list", help="list tokens (names, never the tokens)")
    p.set_defaults(handler=run_token)
    return run_token


def run_token(args: argparse.Namespace) -> int:
    if not extras.require("token", ("sqlalchemy", "alembic")):
        return 3
    from sqlalchemy import select

    from ..store import Store, Token

    store = Store(args.db)
    try:
        if args.token_command == "create":
            print(store.create_token(args.name, admin=args.admin))
            return 0
        if args.token_command == "list":
            with store.Session() as s:
                for t in s.scalars(select(Token).order_by(Token.id)):
                    print(f"{t.id}\t{'admin' if t.admin else 'user'}\t{t.created_at:%Y-%m-%d}\t{t.name}")
            return 0
        print("veracity token: choose create or list", file=sys.stderr)
        return 2
    finally:
        store.close()
