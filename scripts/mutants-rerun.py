#!/usr/bin/env python3
"""Prints the cargo-mutants command that re-runs exactly the mutants of a list.

Usage: scripts/mutants-rerun.py MISSED_TXT [OUTPUT_DIR]

MISSED_TXT is a `missed.txt` of an earlier run (one mutant name per line, as
`cargo mutants --list` prints them). Each name becomes one anchored `-F` pattern, so
the re-run examines those mutants and no other (docs/mutation.md).
"""
import re
import shlex
import sys

META = set("\\.+*?()|[]{}^$#&-~")


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    path = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) == 3 else "../mut-rerun"
    try:
        with open(path, encoding="utf-8") as f:
            names = [l.rstrip("\n") for l in f if l.strip()]
    except OSError as e:
        print(f"{path}: {e.strerror}", file=sys.stderr)
        return 2
    if not names:
        print(f"{path}: no mutants listed", file=sys.stderr)
        return 2
    cmd = ["cargo", "mutants", "--in-place", "--timeout", "120", "-o", out]
    for n in names:
        # The characters Rust's `regex::escape` escapes (`\<` would be a word boundary).
        pat = "".join("\\" + c if c in META else c for c in n)
        cmd += ["-F", f"^{pat}$"]
    print(" ".join(shlex.quote(c) for c in cmd))
    return 0


if __name__ == "__main__":
    sys.exit(main())
