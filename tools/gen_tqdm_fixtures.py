#!/usr/bin/env python3
"""gen_tqdm_fixtures.py - writes tests/fixtures/tqdm_format.txt: progress-bar
states and the line tqdm.format_meter prints for each, which
tests/test_bar_format.c checks weft__meter_format against byte for byte.

    tools/gen_tqdm_fixtures.py [OUTPUT]

Needs tqdm (Debian: python3-tqdm; run it with the Python that has it, e.g.
/usr/bin/python3).  The output is deterministic for a given tqdm and Python.

Each state is written as weft sees it (the fields of weft__meter); to_tqdm()
maps it onto format_meter's arguments:
- a count (n, total) that is an integer becomes a Python int, as tqdm's
  counters are; any other value stays a float;
- total <= 0 or NaN is total=None; rate NaN is rate=None; unit NULL is 'it';
  unit_divisor 0 is 1000; ncols < 0 is ncols=None; ascii 0/1 is False/True.
States where weft differs from tqdm on purpose (see src/progress/format.h:
non-finite inputs, control characters, intervals past 2^63 s) are not
written here; the C test covers them.

File format: '#' lines are comments; every other line is 12 tab-separated
fields: n total elapsed rate desc unit unit_scale unit_divisor postfix
ncols ascii expected.  Numbers are Python repr() of the double (C strtod
reads them back exactly).  Text fields are UTF-8 with backslash escapes
\\\\ \\t \\n \\r, and a lone \\N stands for NULL.
"""
import math
import os
import random
import sys
import unicodedata
import warnings

import tqdm
from tqdm import tqdm as tqdm_cls

# Bar() warns when it clamps a fraction outside [0, 1] (negative n).
warnings.simplefilter("ignore")

NAN = float("nan")
FIELDS = ("n", "total", "elapsed", "rate", "desc", "unit", "unit_scale",
          "unit_divisor", "postfix", "ncols", "ascii")
DEFAULTS = dict(n=0.0, total=NAN, elapsed=0.0, rate=NAN, desc=None, unit=None,
                unit_scale=0, unit_divisor=1000.0, postfix=None, ncols=-1,
                ascii=0)


def count(x):
    return int(x) if float(x).is_integer() else float(x)


def to_tqdm(st):
    total = st["total"]
    total = None if math.isnan(total) or total <= 0 else count(total)
    rate = None if math.isnan(st["rate"]) else st["rate"]
    return dict(
        n=count(st["n"]), total=total, elapsed=st["elapsed"], rate=rate,
        prefix=st["desc"] or "",
        unit="it" if st["unit"] is None else st["unit"],
        unit_scale=bool(st["unit_scale"]),
        unit_divisor=st["unit_divisor"] or 1000.0, postfix=st["postfix"],
        ncols=None if st["ncols"] < 0 else st["ncols"],
        ascii=bool(st["ascii"]))


def check_supported(st):
    """Refuses states outside what weft reproduces exactly."""
    for k in ("n", "elapsed"):
        assert math.isfinite(st[k]), st
    assert not math.isinf(st["total"]) and not math.isinf(st["rate"]), st
    for k in ("desc", "unit", "postfix"):
        s = st[k] or ""
        assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in s), st
        # Python 3.11 calls unassigned code points fullwidth; weft does not.
        assert all(unicodedata.category(c) != "Cn" for c in s), st
    a = to_tqdm(st)
    rate = a["rate"]
    if rate is None and a["elapsed"]:
        rate = a["n"] / a["elapsed"]
    limit = 2.0 ** 63
    assert abs(st["elapsed"]) < limit, st
    if rate and a["total"] and not a["n"] >= a["total"] + 0.5:
        assert abs((a["total"] - a["n"]) / rate) < limit, st


def esc(s):
    if s is None:
        return "\\N"
    return (s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def line(st):
    check_supported(st)
    expected = tqdm_cls.format_meter(**to_tqdm(st))
    out = []
    for k in FIELDS:
        v = st[k]
        if k in ("desc", "unit", "postfix"):
            out.append(esc(v))
        elif k in ("unit_scale", "ncols", "ascii"):
            out.append(str(int(v)))
        else:
            out.append(repr(float(v)))
    out.append(esc(expected))
    return "\t".join(out)


def S(**kw):
    st = dict(DEFAULTS)
    for k, v in kw.items():
        assert k in st, k
        st[k] = v
    for k in ("n", "total", "elapsed", "rate", "unit_divisor"):
        st[k] = float(st[k])
    return st


CJK1 = "任务进行中..."   # 13 columns
CJK2 = "整体任务进度"     # 12 columns
DESCS = [None, "", "desc", "Downloading", CJK1, CJK2, "desc: ",
         "mixed 中文 text", "🚀 launch", "naïve café",
         "e\u0301\u0301 combining",
         "ｆｕｌｌｗｉｄｔｈ", "a" * 60, "데이터 처리"]
UNITS = [None, "it", "B", "files", "", "字"]
POSTFIXES = [None, "", "loss=0.123", "lr=1e-3, acc=0.9", "状态=好"]
NCOLS = [-1, 0, 1, 2, 5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 80, 120, 200]
RATES = [NAN, 0.0, 1e-3, 0.1, 0.5, 2 / 3, 0.999, 1.0, 1.0001, 1.5, 3.5,
         9.995, 99.95, 999.5, 1234.5, 1e6, 1e9, -2.0, -0.5]
ELAPSED = [0.0, 0.4, 0.999, 1.0, 2.0, 59.9, 60.0, 61.0, 3599.0, 3600.0,
           3723.0, 86399.0, 3 * 86400 + 5.0, 1e6, 1e9, -1.5, -61.0]


def states():
    # The seed's bars and the line from the documentation.
    yield S(n=2, total=5, elapsed=2, desc="desc", ncols=80)
    yield S(n=2, total=5, elapsed=2, desc="desc")
    yield S(n=7, elapsed=2, desc="desc")
    for n in (0, 3, 10, 37, 99, 100):
        for nc in (-1, 0, 40, 60, 80, 120):
            yield S(n=n, total=100, elapsed=n * 0.3, desc=CJK1, ncols=nc)
            yield S(n=n, total=100, elapsed=n * 0.3, desc=CJK2, ncols=nc,
                    ascii=1)

    # Every partial cell of the bar, both charsets.
    for k in range(0, 81):
        yield S(n=k, total=80, elapsed=4, ascii=k % 2)
    for k in range(0, 101, 3):
        yield S(n=k, total=100, elapsed=4, ascii=1, ncols=47)
        yield S(n=k, total=100, elapsed=4, ncols=53, desc="d")

    # Rates: it/s and s/it, known or derived, with and without a total.
    for r in RATES:
        for total in (NAN, 50):
            for us in (0, 1):
                yield S(n=20, total=total, elapsed=10, rate=r, unit_scale=us)
    for n, el in ((0, 0), (0, 5), (5, 0), (1, 3), (2, 3), (3, 2), (10, 0.5)):
        yield S(n=n, total=10, elapsed=el)
        yield S(n=n, elapsed=el)

    # Time formats, from seconds to days and beyond, and negative clocks.
    for el in ELAPSED:
        yield S(n=5, total=10, elapsed=el)
        yield S(n=5, elapsed=el, rate=1)
    for rem in (0, 59, 60, 3599, 3600, 3723, 359999, 360000, 1e7, 1e12,
                9.2e18):
        yield S(n=0, total=rem if rem else 1, elapsed=1, rate=1)

    # Counts: huge, fractional, past the total, at 0 and negative.
    for n, total in ((1e12, 2e12), (1e12, NAN), (123456789012, 1e12),
                     (2 ** 53, 2 ** 53 + 2), (2 ** 53 + 2, 2 ** 54),
                     (1e20, 1e21), (1e300, NAN), (1.7976931348623157e308, NAN),
                     (2.5, 10), (0.1, 1), (1 / 3, 1), (1e-5, 1), (1.5e-5, 10),
                     (12345.678, 1e5), (1e15 + 0.125, 1e16), (0.5, 0.75),
                     (9.99, 10), (0.004, 1), (0.006, 1), (0.995, 1),
                     (10.4, 10), (10.5, 10), (11, 10), (20, 10), (10, 10),
                     (0, 10), (5, 0), (5, -1), (-3, 10), (-0.001, 10),
                     (-0.0, 10), (-5, NAN), (-2.5, NAN), (3, 2.5),
                     (0.4, 1e-300)):
        for us in (0, 1):
            yield S(n=n, total=total, elapsed=7, unit_scale=us)
            yield S(n=n, total=total, elapsed=7, unit_scale=us, ncols=60)

    # SI prefixes around every boundary, divisors 1000 and 1024, bytes.
    sizes = [0, 1, 9.994, 9.995, 99.94, 99.95, 999, 999.4, 999.5, 1000, 1023,
             1024, 1025, 1500, 9994, 9995, 99949, 99950, 999499, 999500, 1e6,
             1.5e6, 1048576, 2 ** 30, 1e12, 1e15, 1e18, 1e21, 1e24, 999.5e24,
             1e27, 1e30, 1.5e33]
    for x in sizes:
        for div in (1000, 1024, 0):
            yield S(n=x, elapsed=3, unit_scale=1, unit_divisor=div, unit="B")
            yield S(n=x / 2, total=x if x else 1, elapsed=3, unit_scale=1,
                    unit_divisor=div, unit="B", ncols=80)
    for r in (0.0125, 0.5, 999.49, 999.5, 5e5, 2e9, 3e12, 1e30):
        yield S(n=1e9, total=4e9, elapsed=3, rate=r, unit_scale=1,
                unit_divisor=1024, unit="B", desc="download")

    # Widths: every ncols with descriptions of every kind, both charsets.
    for nc in NCOLS:
        for d in DESCS:
            for a in (0, 1):
                yield S(n=3, total=7, elapsed=65, desc=d, ncols=nc, ascii=a)
            yield S(n=3, elapsed=65, desc=d, ncols=nc)
            yield S(n=3, total=7, elapsed=65, desc=d, ncols=nc,
                    postfix="状态=好", unit="字")

    # Units and postfixes.
    for u in UNITS:
        for p in POSTFIXES:
            yield S(n=4, total=9, elapsed=2, unit=u, postfix=p, desc="job",
                    ncols=70)
            yield S(n=4, elapsed=2, unit=u, postfix=p, desc="job")
            yield S(n=4, total=9, elapsed=20, unit=u, postfix=p, ncols=0)

    # A seeded random walk through all of it.
    rng = random.Random(20240603)
    ns = [0, 1, 2, 7, 50, 99, 100, 1234, 1e6, 2.5, 1e12]
    totals = [NAN, 0, 1, 10, 100, 3000, 1e6, 1e12]
    for _ in range(600):
        n = rng.choice(ns)
        total = rng.choice(totals)
        yield S(n=n, total=total, elapsed=rng.choice(ELAPSED[:15]),
                rate=rng.choice(RATES), desc=rng.choice(DESCS),
                unit=rng.choice(UNITS), unit_scale=rng.randrange(2),
                unit_divisor=rng.choice((1000, 1024, 0)),
                postfix=rng.choice(POSTFIXES), ncols=rng.choice(NCOLS),
                ascii=rng.randrange(2))


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        root, "tests", "fixtures", "tqdm_format.txt")
    seen = set()
    body = []
    skipped = 0
    for st in states():
        try:
            text = line(st)
        except AssertionError:
            skipped += 1  # outside what weft reproduces (check_supported)
            continue
        if text not in seen:
            seen.add(text)
            body.append(text)
    head = [
        "# tqdm_format.txt - tqdm.format_meter lines for "
        "tests/test_bar_format.c",
        "# Generated by tools/gen_tqdm_fixtures.py; do not edit.",
        "# tqdm %s, Python %d.%d.%d, Unicode %s; %d lines." % (
            tqdm.__version__, sys.version_info[0], sys.version_info[1],
            sys.version_info[2], unicodedata.unidata_version, len(body)),
        "# Fields (tab-separated): " + " ".join(FIELDS) + " expected",
    ]
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(head + body) + "\n")
    print("%s: %d lines (%d states skipped)" % (path, len(body), skipped))


if __name__ == "__main__":
    main()
