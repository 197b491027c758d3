"""``veracity serve``: the web UI (server-rendered, no JavaScript build) and REST API over the store.

``create_app`` lives in :mod:`veracity.web.app` (imports FastAPI); the command line in :mod:`veracity.web.cli`.
"""

from .cli import register, register_token

__all__ = ["register", "register_token"]
