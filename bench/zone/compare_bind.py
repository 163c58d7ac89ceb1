#!/usr/bin/env python3
"""Reads every zone file in a DIRECTORY with BIND (`named-compilezone`) and with gslbd, and
prints how each was read:

  both-reject     BIND and gslbd both refuse it
  gslbd-rejects   BIND loads it, gslbd refuses it
  same            both load it, and gslbd's AXFR holds exactly BIND's canonical records
                  (owner spelling, TTL, type, RDATA); the AXFR is compared as BIND prints it
                  (written in RFC 3597 form and read back by named-compilezone)
  differ          both load it, with different data (the first differences are printed)
  axfr-fails      both load it, and gslbd's AXFR cannot be read
  bind-rejects    gslbd loads what BIND refuses

then a table and the count of each. The origin of a file is, in this order: its line in
DIRECTORY/ORIGINS ("file origin"), the SOA owner when written absolute, the file name less a
.db/.zone suffix. Both readers run with the file's directory as working directory, and gslbd's
config lives there too, so `$INCLUDE zones/x.db` reaches the same file for both.

  bench/zone/compare_bind.py DIRECTORY [--gslbd build-test/src/daemon/gslbd] [--relaxed] [-v]

Needs bind9-utils (named-compilezone) and python3-dnspython. Talks to 127.0.0.1 only, and stops
each gslbd it starts by its PID.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.dont_write_bytecode = True
import gslbtest as g  # noqa: E402

import dns.exception  # noqa: E402

SKIP_SUFFIXES = (".toml", ".log", ".in", ".orig~")


def origins(directory):
    table = {}
    path = os.path.join(directory, "ORIGINS")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and not line.startswith("#"):
                    table[parts[0]] = parts[1]
    return table


def guess_origin(path, table):
    name = os.path.basename(path)
    if name in table:
        return table[name]
    try:
        with open(path, errors="replace") as f:
            for line in f:
                m = re.match(r"^(\S+\.)\s+(?:\S+\s+){0,2}SOA\s", line, re.I)
                if m and not line.startswith(("$", ";")):
                    return m.group(1)
    except OSError:
        pass
    stem = re.sub(r"\.(db|zone)$", "", name)
    return stem.rstrip(".") + "."


def bind_read(path, origin, extra=()):
    r = subprocess.run(["named-compilezone", "-q", *extra, "-o", "-", origin,
                        os.path.basename(path)],
                       cwd=os.path.dirname(path), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=60, stdin=subprocess.DEVNULL,
                       errors="replace")
    if r.returncode != 0:
        # -q keeps the reasons back: read again without it, for them.
        r = subprocess.run(["named-compilezone", *extra, "-o", "/dev/null", origin,
                            os.path.basename(path)], cwd=os.path.dirname(path),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60, stdin=subprocess.DEVNULL, errors="replace")
        lines = [f"bind: {ln}" for ln in r.stdout.splitlines()
                 if ln.strip() and "not loaded due to errors" not in ln]
        return None, lines[:3]
    return g.bind_records(r.stdout), []


def write_config(directory, origin, path, port):
    conf = os.path.join(directory, f".compare-{os.getpid()}.toml")
    with open(conf, "w") as f:
        f.write(f'[server]\nlisten = ["127.0.0.1:{port}"]\nworkers = 1\n\n'
                f'[control]\nsocket = "/tmp/.compare-{os.getpid()}.sock"\n'
                f'state_file = "/tmp/.compare-{os.getpid()}.drains"\n\n'
                f'[[zone]]\nname = "{origin}"\nfile = "{os.path.basename(path)}"\n'
                f'allow_transfer = ["127.0.0.0/8"]\n')
    return conf


def gslbd_read(binary, path, origin):
    directory = os.path.dirname(path)
    port = g.free_port()
    conf = write_config(directory, origin, path, port)
    try:
        r = subprocess.run([binary, "--check-config", "--config", conf], cwd=directory,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60, stdin=subprocess.DEVNULL, errors="replace")
        if r.returncode != 0:
            lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
            return None, lines[:3]
        with tempfile.TemporaryFile("w+") as log:
            proc = subprocess.Popen([binary, "--config", conf], cwd=directory, stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            try:
                if not g.wait_for_answer(port, origin, proc=proc):
                    log.seek(0)
                    return False, ["did not start: " + log.read()[-300:]]
                recs = g.bind_render(directory, origin, g.axfr_records(port, origin))
                if recs is None:
                    return False, ["named-compilezone cannot read gslbd's AXFR back"]
                return recs, []
            except (dns.exception.DNSException, OSError, EOFError) as e:
                return False, [f"AXFR failed: {e!r}"]
            finally:
                g.stop_process(proc, "gslbd")
    finally:
        os.unlink(conf)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("directory")
    ap.add_argument("--gslbd", default=os.path.join(ROOT, "build-test", "src", "daemon", "gslbd"))
    ap.add_argument("--relaxed", action="store_true",
                    help="turn BIND's policy checks off (check-names, NS/MX/SRV targets, "
                         "integrity): what is left are reading differences")
    ap.add_argument("-v", "--verbose", action="store_true", help="print the reasons and differences")
    args = ap.parse_args()
    directory = os.path.abspath(args.directory)
    binary = os.path.abspath(args.gslbd)
    table = origins(directory)
    files = sorted(f for f in os.listdir(directory)
                   if os.path.isfile(os.path.join(directory, f)) and not f.startswith(".")
                   and f not in ("ORIGINS", "SOURCES") and not f.endswith(SKIP_SUFFIXES))
    counts = {}
    rows = []
    for name in files:
        path = os.path.join(directory, name)
        origin = guess_origin(path, table)
        want, bind_why = bind_read(path, origin, g.BIND_RELAXED if args.relaxed else ())
        got, gslbd_why = gslbd_read(binary, path, origin)
        detail = []
        if want is None and got is None:
            verdict = "both-reject"
        elif want is None:
            verdict, detail = "bind-rejects", bind_why + gslbd_why
        elif got is None:
            verdict, detail = "gslbd-rejects", gslbd_why
        elif got is False:
            verdict, detail = "axfr-fails", gslbd_why
        elif sorted(want) == sorted(got):
            verdict = "same"
        else:
            verdict = "differ"
            w, h = set(want), set(got)
            detail = [f"bind only:  {r}" for r in sorted(w - h)[:4]] + \
                     [f"gslbd only: {r}" for r in sorted(h - w)[:4]]
            if w == h:
                detail.append(f"same records, {len(want)} from BIND and {len(got)} from gslbd")
        counts[verdict] = counts.get(verdict, 0) + 1
        rows.append((name, origin, verdict))
        print(f"{name:48} {origin:28} {verdict}", flush=True)
        if args.verbose:
            for d in detail:
                print(f"    {d}")
            if verdict == "both-reject":
                for d in bind_why + gslbd_why:
                    print(f"    {d}")
    print()
    order = ["same", "differ", "axfr-fails", "gslbd-rejects", "bind-rejects", "both-reject"]
    print(f"{len(rows)} files: " + ", ".join(f"{counts.get(k, 0)} {k}" for k in order))
    return 0


if __name__ == "__main__":
    sys.exit(main())
