"""Output formats: each one a pure function of the report."""
