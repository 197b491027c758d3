"""What every scan does first, done once by a process that forks scan workers: the batch's fork server imports
this module, and each worker then starts its first scan as warm as its later ones (0.3 s less each; the batch's
first scan, which seeds the shared cache alone, is the one everything else waits for).

Only what a fork copies safely: the compiled patterns of the default checks, the checks' parsed data (``warm()``),
the digest of veracity's code. No thread, open file or database connection is left behind, and a failure here
costs nothing but the time: each scan does the same again if it finds it missing.
"""

from __future__ import annotations


def warm() -> None:
    from .checks import registry
    from .inventory import code_digest

    instances = registry.checks(None)
    registry.patterns(instances).prepare()  # kept by digest (patterns._DATABASES): a scan's own set finds it
    code_digest()
    for check in instances:
        data = getattr(check, "warm", None)
        if callable(data):
            data()


try:
    warm()
except Exception:  # noqa: BLE001, S110 - a fork server that cannot warm up still forks workers that can scan
    pass
