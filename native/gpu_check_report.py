#!/usr/bin/env python3
"""summary.txt of native/gpu-check.sh: what passed, failed, timed out or was skipped, the first error of each
failure, the test counts and skip reasons from the JUnit XML, the sanitizers' error summaries, and the
rnn4j/cuDNN ratios and phase breakdowns when step 4 ran.

  gpu_check_report.py summary WORKDIR OUTFILE BUDGET_S ELAPSED_S

Reads WORKDIR/steps.tsv (id, name, result, seconds, limit, log, detail per line, written by gpu-check.sh)
and the files the steps left there. Standard library only: it runs in any python3.
"""
import glob
import json
import math
import os
import re
import sys
import xml.etree.ElementTree as ET

ERROR_LINE = re.compile(r"(exception|error|failed|failure|cannot|not found|refused|fatal)", re.I)


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def first_line(text, limit=300):
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""


def junit(dir_):
    """Counts, failures [(test, message)] and skips {reason: count} of the JUnit XML reports in dir_."""
    counts = {"tests": 0, "failed": 0, "skipped": 0}
    failures, skips = [], {}
    for path in sorted(glob.glob(os.path.join(dir_, "*.xml"))):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            failures.append((os.path.basename(path), "unreadable JUnit XML: %s" % e))
            continue
        for case in root.iter("testcase"):
            counts["tests"] += 1
            name = "%s %s" % (case.get("classname", "?"), case.get("name", "?"))
            bad = case.find("failure")
            if bad is None:
                bad = case.find("error")
            if bad is not None:
                counts["failed"] += 1
                msg = bad.get("message") or first_line(bad.text) or bad.get("type", "")
                failures.append((name, first_line(msg)))
                continue
            skipped = case.find("skipped")
            if skipped is not None:
                counts["skipped"] += 1
                reason = first_line(skipped.get("message") or skipped.text or "no reason given", 160)
                reason = re.sub(r"^(org\.opentest4j\.TestAbortedException: )?Assumption failed: ", "", reason)
                skips[reason] = skips.get(reason, 0) + 1
    return counts, failures, skips


def sanitizer(log):
    """The ERROR SUMMARY lines and the first reported error (with its next lines) of a compute-sanitizer log."""
    text = read(log)
    summaries = sorted(set(m.group(0) for m in re.finditer(r"ERROR SUMMARY: \d+ errors?", text)))
    lines = text.splitlines()
    first = None
    for i, line in enumerate(lines):
        if line.startswith("=========") and not re.search(r"COMPUTE-SANITIZER|ERROR SUMMARY|^=+\s*$", line) \
                and re.search(r"Invalid|hazard|Race|Barrier|Leaked|Uninitialized|Error|error|Program hit", line):
            first = " | ".join(l.replace("=========", "").strip() for l in lines[i:i + 4] if l.strip())
            break
    return summaries, first


def first_error(text):
    for line in text.splitlines():
        if ERROR_LINE.search(line):
            return line.strip()[:300]
    tail = [l for l in text.splitlines() if l.strip()]
    return tail[-1].strip()[:300] if tail else "(empty log)"


def bench(work):
    """Rows (shape, pass, rnn4j ms, cuDNN ms) of step 4, and the phase records."""
    ours, phases = {}, []
    for name in ("rnn4j-bench.jsonl", "rnn4j-phases.jsonl"):
        for line in read(os.path.join(work, name)).splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("kind") == "figure" and name == "rnn4j-bench.jsonl":
                ours[(r["shape"], r["pass"])] = r["ms"]
            elif r.get("kind") == "phases":
                phases.append(r)
    theirs, cudnn = {}, {}
    try:
        cudnn = json.loads(read(os.path.join(work, "cudnn.json")) or "{}")
        for r in cudnn.get("results", []):
            theirs[(r["shape"], r["pass"])] = r["ms"]
    except ValueError:
        pass
    rows = [(s, p, ms, theirs.get((s, p))) for (s, p), ms in ours.items()]
    return rows, phases, cudnn


def geomean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def summary(work, budget, elapsed):
    steps = []
    for line in read(os.path.join(work, "steps.tsv")).splitlines():
        parts = line.split("\t")
        if len(parts) >= 7:
            steps.append(dict(zip(("id", "name", "result", "secs", "limit", "log", "detail"), parts)))

    env = read(os.path.join(work, "1-environment.log"))
    info = read(os.path.join(work, "1-info-cublas.log")) or read(os.path.join(work, "1-info.log"))
    commit = first_line(read(os.path.join(work, "COMMIT"))) or "unknown"
    gpu = re.search(r"^name, driver_version.*\n(.*)", env, re.M)
    usable = re.search(r"^\s*usable: (.*)", info, re.M)
    cublas = re.search(r"^\s*(cuBLAS.*(?:use|selected|binding).*)$", info, re.M | re.I)
    out = ["rnn4j GPU check (native/gpu-check.sh)",
           "bundle commit: %s" % commit,
           "GPU: %s" % (gpu.group(1).strip() if gpu else "none listed by nvidia-smi"),
           "CUDA engine usable: %s" % (usable.group(1).strip() if usable else "unknown (no info output)")]
    if cublas:
        out.append(cublas.group(1).strip())
    out.append("time: %s s of the %s s budget" % (elapsed, budget))
    out.append("")

    failed = [s for s in steps if s["result"] in ("FAIL", "TIMEOUT")]
    verdict = "ALL RAN STEPS PASSED" if steps and not failed else "%d STEP(S) FAILED OR TIMED OUT" % len(failed)
    if not (usable and usable.group(1).startswith("yes")):
        verdict += "; CUDA ENGINE NOT USABLE, SO NOTHING RAN ON A GPU"
    out.append("%s (%d steps recorded)" % (verdict, len(steps)))
    width = max([len(s["name"]) for s in steps] + [4])
    for s in steps:
        detail = s["detail"]
        if s["name"] == "tests" or s["name"].startswith("sanitizer-"):
            tail = [l for l in read(os.path.join(work, s["log"])).splitlines() if l.strip()]
            counts = [l for l in tail if re.match(r"^\d+ passed, \d+ failed, \d+ skipped$", l)]
            if counts:
                detail = counts[-1] + ("; " + detail if detail else "")
        if s["name"].startswith("sanitizer-"):
            sums, _ = sanitizer(os.path.join(work, s["log"]))
            if sums:
                detail = ", ".join(sums) + ("; " + detail if detail else "")
        out.append("  %s  %-*s  %-7s %4s s of %4s s  %s" % (s["id"], width, s["name"], s["result"], s["secs"],
                                                            s["limit"], detail))
    out.append("")

    if failed:
        out.append("First error of each failure:")
        for s in failed:
            log = os.path.join(work, s["log"]) if s["log"] else ""
            if s["result"] == "TIMEOUT":
                tail = [l.strip() for l in read(log).splitlines() if l.strip()]
                err = "killed at its limit; its last output: %s" % (" | ".join(tail[-2:])[:300] or "none")
            elif s["name"] == "tests":
                _, fails, _ = junit(os.path.join(work, "junit"))
                err = ("%s: %s" % fails[0]) if fails else first_error(read(log))
                if len(fails) > 1:
                    err += "  (+%d more failures, see junit/)" % (len(fails) - 1)
            elif s["name"].startswith("sanitizer-"):
                _, first = sanitizer(log)
                err = first or first_error(read(log))
            else:
                err = first_error(read(log))
            out.append("  %s %s: %s" % (s["id"], s["name"], err))
        out.append("")

    counts, fails, skips = junit(os.path.join(work, "junit"))
    if counts["tests"]:
        out.append("Test suite (junit/): %d tests, %d failed, %d skipped" % (counts["tests"], counts["failed"],
                                                                            counts["skipped"]))
        for name, msg in fails[:10]:
            out.append("  FAILED %s: %s" % (name, msg))
        for reason, n in sorted(skips.items(), key=lambda kv: -kv[1])[:8]:
            out.append("  skipped %3d: %s" % (n, reason))
        cuda_skips = sum(n for r, n in skips.items()
                         if re.search(r"no usable cuda|cuda (is )?not usable|unusable", r, re.I))
        if usable and usable.group(1).startswith("yes") and cuda_skips:
            out.append("  WARNING: CUDA is usable but %d tests skipped for want of it" % cuda_skips)
        out.append("")

    rows, phases, cudnn = bench(work)
    if rows:
        peak = cudnn.get("peak_gflops")
        out.append("rnn4j against cuDNN (ms, medians; full table in gpu-table.md)%s:" % (
            "; cuDNN not run: %s" % cudnn["skipped"] if cudnn.get("skipped") else ""))
        for p in ("forward", "trainingStep"):
            ratios = [ours / theirs for (_, q, ours, theirs) in rows if q == p and theirs]
            g = geomean(ratios)
            if g:
                out.append("  %s: rnn4j/cuDNN geometric mean %.2fx over %d shapes (min %.2fx, max %.2fx)"
                           % (p, g, len(ratios), min(ratios), max(ratios)))
        out.append("  %d rnn4j figures%s" % (len(rows), ", FP32 GEMM peak %.0f GFLOP/s" % peak if peak else ""))
        out.append("")
    for r in phases:
        step = r.get("step_ms") or 0
        top = sorted(r.get("phases", []), key=lambda ph: -ph["ms"])[:4]
        parts = ["%s %.0f%%" % (ph["phase"], 100 * ph["ms"] / step) for ph in top if step]
        out.append("Phases %s on %s: step %.3f ms; gaps %.0f%%; %s" % (
            r["shape"], r["device"], step, 100 * r.get("gaps_ms", 0) / step if step else 0, "; ".join(parts)))
    return "\n".join(out).rstrip() + "\n"


def main():
    if len(sys.argv) != 6 or sys.argv[1] != "summary":
        sys.exit(__doc__)
    _, _, work, outfile, budget, elapsed = sys.argv
    text = summary(work, budget, elapsed)
    with open(outfile, "w") as f:
        f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
