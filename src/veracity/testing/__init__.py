"""Test helpers for veracity: builders of firmware images made on this machine from Debian tools."""
