"""Benchmark: guideline governance at scale: migration of ~1M judgements, and the decision log.

    .venv/bin/python bench/bench_guidelines.py [--rows 1000000] [--entries 5000] [--quick]

Measured in this run, printed as one table:

* ``labkit.guidelines.migrate.migrate_labels`` carrying the bundled sample program (tiled with fresh
  item ids to ``--rows`` judgements, under 1.0.0 / 1.1.0 / 2.0.0) to 2.0.0, against the obvious plain
  pandas alternative (``Series.map`` through each release's map, row flags by ``isna``) on the same
  frame, checked to give the same labels and the same number of flagged rows;
* the decision log: appending ``--entries`` entries one call each (lock, read tail, fsync), from one
  process and from 4 processes at once, and in batches of 100 with ``append_many`` (one lock and one
  fsync per batch); then ``verify`` over the whole log, against a bare loop that only re-hashes each
  line with hashlib (the floor for any hash-chain check in Python).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import tiled_program  # noqa: E402  (bench/ is on sys.path when run as a script)

from labkit.guidelines import log as dlog  # noqa: E402
from labkit.guidelines.migrate import migrate_labels, step_map  # noqa: E402
from labkit.guidelines.model import Guidelines  # noqa: E402


def plain_pandas_migrate(df: pd.DataFrame, g: Guidelines, task: str, to: str) -> tuple[pd.Series, int]:
    """What one would write by hand: map each version's rows through the releases' maps with Series.map."""
    versions = g.versions(task)
    names = [v.version for v in versions]
    out = pd.Series(pd.NA, index=df.index, dtype="object")
    ver = df["guideline_version"].astype(str)
    lab = df["label"].astype(str)
    for i, v in enumerate(names[: names.index(to) + 1]):
        rows = ver == v
        cur = lab[rows].where(lab[rows].isin(versions[i].label_names))  # labels the version lacks: NA
        for j in range(i, names.index(to)):
            m, _ = step_map(versions[j], versions[j + 1])
            cur = cur.map(m)
        out[rows] = cur
    flagged = int(out.isna().sum())
    return out, flagged


def _appender(args: tuple[str, int, int]) -> None:
    root, wid, n = args
    for i in range(n):
        dlog.append(root, "adjudicate", f"w{wid}", at="2026-10-01T00:00:00Z", task="t", item_id=f"c-{wid}-{i}",
                    label="ok", why="bench")


def bare_rehash(path: Path) -> int:
    n = 0
    for line in path.read_bytes().splitlines():
        e = json.loads(line)
        h = e.pop("hash")
        assert hashlib.sha256(json.dumps(e, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                              .encode("utf-8")).hexdigest() == h
        n += 1
    return n


def timed(fn, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
    t0 = time.perf_counter()
    out = fn(*a, **k)
    return out, time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--entries", type=int, default=5_000)
    ap.add_argument("--quick", action="store_true", help="100k rows, 1000 entries")
    args = ap.parse_args()
    rows, entries = (100_000, 1_000) if args.quick else (args.rows, args.entries)
    g = Guidelines.load(ROOT / "guidelines")
    proc = psutil.Process()
    df = tiled_program(rows)
    table = []

    rss0 = proc.memory_info().rss
    res, t_lab = timed(migrate_labels, df, g, "2.0.0", task="toxicity")
    rss_lab = proc.memory_info().rss - rss0
    (ref, ref_flagged), t_ref = timed(plain_pandas_migrate, df, g, "toxicity", "2.0.0")
    c = res.counts
    assert c["flagged"] == ref_flagged, (c, ref_flagged)
    kept = res.relabel.shape[0] + res.table.shape[0] + c["collapsed"]
    assert kept == len(df)
    assert c["collapsed"] == 0
    same = (res.table["label"].astype(str).to_numpy() == ref.dropna().astype(str).to_numpy()).all()
    assert same, "labkit and plain pandas disagree on migrated labels"
    table.append(("migrate to 2.0.0", f"{len(df):,} judgements", "labkit migrate_labels", t_lab,
                  f"{len(df) / t_lab / 1e6:.2f} M rows/s; RSS +{rss_lab / 2**20:.0f} MiB; flagged {c['flagged']:,}"))
    table.append(("migrate to 2.0.0", f"{len(df):,} judgements", "plain pandas Series.map", t_ref,
                  f"{len(df) / t_ref / 1e6:.2f} M rows/s; same labels, same flagged rows"))

    with tempfile.TemporaryDirectory() as tmp:
        one = Path(tmp) / "one"
        _, t_app = timed(_appender, (str(one), 0, entries))
        table.append(("log append", f"{entries:,} entries", "labkit log.append, 1 process", t_app,
                      f"{entries / t_app:,.0f} entries/s (lock + tail + fsync each)"))
        four = Path(tmp) / "four"
        with mp.get_context("fork").Pool(4) as pool:
            _, t_app4 = timed(pool.map, _appender, [(str(four), w, entries // 4) for w in range(4)])
        v4 = dlog.verify(four)
        assert v4.ok and v4.entries == entries // 4 * 4, str(v4)
        table.append(("log append", f"{entries // 4 * 4:,} entries", "labkit log.append, 4 processes", t_app4,
                      f"{entries // 4 * 4 / t_app4:,.0f} entries/s; chain intact"))
        many = Path(tmp) / "many"
        batch = [{"action": "adjudicate", "who": "w", "at": "2026-10-01T00:00:00Z", "task": "t", "label": "ok",
                  "why": "bench"}] * 100
        _, t_many = timed(lambda: [dlog.append_many(many, [dict(d, item_id=f"c-{k}-{i}") for i, d in enumerate(batch)])
                                   for k in range(entries // 100)])
        assert dlog.verify(many).ok
        table.append(("log append", f"{entries // 100 * 100:,} entries", "labkit log.append_many (100/batch)", t_many,
                      f"{entries // 100 * 100 / t_many:,.0f} entries/s; chain intact"))
        v, t_ver = timed(dlog.verify, one)
        assert v.ok
        table.append(("log verify", f"{entries:,} entries", "labkit log.verify", t_ver,
                      f"{entries / t_ver:,.0f} entries/s (hash, canonical form, seq, prev)"))
        n, t_bare = timed(bare_rehash, one / "decisions.jsonl")
        table.append(("log verify", f"{n:,} entries", "bare hashlib re-hash loop", t_bare,
                      f"{n / t_bare:,.0f} entries/s (hash only: the floor)"))
        # signed (issue 15): Ed25519 per entry, under a governance.yaml listing the signer's key
        from labkit.guidelines import signing

        signed = Path(tmp) / "signed"
        signed.mkdir()
        key = signing.sample_key("g-expert-1")
        (signed / "governance.yaml").write_text(
            f"members:\n  g-expert-1:\n    roles: [domain_expert]\n    key: {signing.public_line(key)}\n"
            "rules: {major: [{role: domain_expert}], minor: [{role: domain_expert}], patch: [{role: domain_expert}]}\n",
            encoding="utf-8")
        sbatch = [{"action": "adjudicate", "who": "g-expert-1", "at": "2026-10-01T00:00:00Z", "task": "t", "label": "ok",
                   "why": "bench", "_key": key}] * 100
        _, t_sign = timed(lambda: [dlog.append_many(signed, [dict(d, item_id=f"c-{k}-{i}") for i, d in enumerate(sbatch)])
                                   for k in range(entries // 100)])
        table.append(("log append", f"{entries // 100 * 100:,} entries", "append_many, Ed25519-signed", t_sign,
                      f"{entries // 100 * 100 / t_sign:,.0f} entries/s (sign each entry)"))
        vs, t_vs = timed(dlog.verify, signed)
        assert vs.ok and vs.signing == "required", str(vs)
        table.append(("log verify", f"{vs.entries:,} entries", "labkit log.verify, signed", t_vs,
                      f"{vs.entries / t_vs:,.0f} entries/s (chain + each Ed25519 signature + audit)"))

    print(f"\nguideline governance bench ({os.cpu_count()} CPUs; every number measured in this run)\n")
    print(f"{'what':<18} {'size':<22} {'implementation':<32} {'seconds':>8}  notes")
    for what, size, impl, secs, notes in table:
        print(f"{what:<18} {size:<22} {impl:<32} {secs:8.2f}  {notes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
