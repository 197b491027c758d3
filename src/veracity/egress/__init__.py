"""Endpoint extraction and attribution for the egress check (:mod:`veracity.checks.egress`)."""
