"""``veracity serve``: the web UI (server-rendered, no JavaScript build) and REST API over the store."""

from .app import create_app, register, register_token

__all__ = ["create_app", "register", "register_token"]
