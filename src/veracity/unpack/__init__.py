"""Unpacking: open every layer of a target within limits."""
