"""seed.py - what the seed's Python programs share: the seed's delays
(seconds), scaled by the environment variable WEFT_SEED_TIME_SCALE (a float,
default 1) exactly as seed.h scales their C twins', so that tests can run
both in a fraction of the time."""
import os
import sys


def _scale():
    s = os.environ.get("WEFT_SEED_TIME_SCALE")
    if s is None:
        return 1.0
    try:
        k = float(s)
    except ValueError:
        k = -1.0
    if not (k >= 0 and k != float("inf")):
        print("WEFT_SEED_TIME_SCALE=%s is not a number >= 0; using 1" % s,
              file=sys.stderr)
        k = 1.0
    return k


SCALE = _scale()


def seconds(s):
    """The seed's `s` seconds, as this run should wait them."""
    return s * SCALE
