#!/usr/bin/env python3
"""Reads `go test -json` on standard input and prints what `go test` prints
without -v (each package's ok/FAIL line, and the whole output of every test
that failed), then one closing line: N passed, N failed, N skipped.

It exits non-zero when a test failed, a package failed to build or run, or,
with --no-skips, when any test skipped itself: under VIGIL_REQUIRE_TESTDATA
no test may skip, so a skip is a check that silently did not run."""
import json
import sys

no_skips = "--no-skips" in sys.argv[1:]
out = {}      # (package, test) -> output lines
counts = {"pass": 0, "fail": 0, "skip": 0}
skipped = []
bad_packages = []
for line in sys.stdin:
    try:
        ev = json.loads(line)
    except ValueError:
        # Build errors and the like come as plain text.
        sys.stdout.write(line)
        continue
    pkg, test, action = ev.get("Package", ""), ev.get("Test"), ev.get("Action")
    if action == "output":
        if test:
            out.setdefault((pkg, test), []).append(ev.get("Output", ""))
        elif ev.get("Output", "") not in ("PASS\n", "FAIL\n"):
            sys.stdout.write(ev.get("Output", ""))
            sys.stdout.flush()
        continue
    if test and action in counts:
        # Subtests count with their parents: report top-level tests only.
        if "/" not in test:
            counts[action] += 1
        if action == "fail":
            sys.stdout.write("".join(out.get((pkg, test), [])))
        if action == "skip":
            why = [l.strip() for l in out.get((pkg, test), []) if l.strip() and not l.lstrip().startswith(("--- SKIP", "=== "))]
            skipped.append("%s %s: %s" % (pkg, test, why[-1] if why else "(no reason given)"))
        out.pop((pkg, test), None)
    elif not test and action == "fail":
        bad_packages.append(pkg)

if skipped:
    print("\nskipped tests:")
    for s in skipped:
        print("  " + s)
print("\n%d passed, %d failed, %d skipped" % (counts["pass"], counts["fail"], counts["skip"]))
if counts["fail"] or bad_packages:
    sys.exit(1)
if no_skips and skipped:
    print("scripts/test: tests skipped themselves although every test must run (VIGIL_REQUIRE_TESTDATA)", file=sys.stderr)
    sys.exit(1)
