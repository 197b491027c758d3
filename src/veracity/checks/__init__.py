"""Checks: small modules that read the inventory and yield findings. See registry.py."""
