#!/usr/bin/env python3
"""The helpers of native/gpu-check.sh. Standard library only: it runs in any python3.

  gpu_check_report.py summary WORKDIR BUDGET_S ELAPSED_S
      WORKDIR/summary.txt: the verdict and each step's result first, then the first error of each failure,
      test counts and skip reasons from the JUnit XML, the sanitizers' error summaries, the rnn4j/cuDNN
      ratios, the phase breakdowns, and `info`'s output; WORKDIR/failures.txt: what a failure needs to be
      fixed offline (each failing test's message and stack trace, the CUDA/cuBLAS errors in the logs, the
      tail of each failed step's log, JVM crash reports). Reads WORKDIR/steps.tsv (id, name, result,
      seconds, limit, log, detail per line, written by gpu-check.sh) and the files the steps left there.
  gpu_check_report.py cuda-tests TEST_CLASSES_DIR
      The test classes whose bytecode reaches CUDA (a class of org.rnn4j.cuda, Device.cuda(), the Devices
      helper), directly or through another class of the folder, one name a line.
  gpu_check_report.py reads-property JAR NAME
      Exit 0 when a class in JAR holds the string NAME (the library reads that system property), else 1.
"""
import glob
import json
import math
import os
import re
import sys
import struct
import xml.etree.ElementTree as ET
import zipfile

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
    """Rows (variant, shape, pass, rnn4j ms) of step 3, cuDNN {(mode, shape, pass): ms}, the phase records and
    cudnn.json. The variants are the rnn4j-NAME.jsonl files, in the order their steps ran."""
    ours, phases = [], []
    for s in steps_of(work):
        if not (s["name"].startswith("rnn4j-") and s["result"] != "SKIP"):
            continue
        variant = s["name"][len("rnn4j-"):]
        for line in read(os.path.join(work, "rnn4j-%s.jsonl" % variant)).splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("kind") == "figure":
                ours.append((variant, r["shape"], r["pass"], r["ms"]))
            elif r.get("kind") == "phases":
                phases.append(r)
    theirs, cudnn = {}, {}
    try:
        cudnn = json.loads(read(os.path.join(work, "cudnn.json")) or "{}")
        for r in cudnn.get("results", []):
            theirs[(r.get("mode", "fp32"), r["shape"], r["pass"])] = r["ms"]
    except ValueError:
        pass
    return ours, theirs, phases, cudnn


def steps_of(work):
    steps = []
    for line in read(os.path.join(work, "steps.tsv")).splitlines():
        parts = line.split("\t")
        if len(parts) >= 7:
            steps.append(dict(zip(("id", "name", "result", "secs", "limit", "log", "detail"), parts)))
    return steps


def geomean(values):
    values = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def step_counts(work, s):
    """The run-tests.sh closing line of a test step's log, and the sanitizer's error summaries."""
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
    return detail


def junit_dir(s):
    return "junit" if s["name"] == "tests" else "junit-" + s["name"][len("sanitizer-"):]


def summary(work, budget, elapsed):
    steps = steps_of(work)
    env = read(os.path.join(work, "1-environment.log"))
    info_name = "1-info-cublas.log" if os.path.exists(os.path.join(work, "1-info-cublas.log")) else "1-info.log"
    info = read(os.path.join(work, info_name))
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
        out.append("  %s  %-*s  %-7s %4s s of %4s s  %s" % (s["id"], width, s["name"], s["result"], s["secs"],
                                                            s["limit"], step_counts(work, s)))
    out.append("")

    if failed:
        out.append("First error of each failure (the context: failures.txt):")
        for s in failed:
            out.append("  %s %s: %s" % (s["id"], s["name"], first_error_of(work, s)))
        out.append("")

    counts, fails, skips = junit(os.path.join(work, "junit"))
    if counts["tests"]:
        out.append("CUDA tests (junit/): %d tests, %d failed, %d skipped" % (counts["tests"], counts["failed"],
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

    ours, theirs, phases, cudnn = bench(work)
    if ours:
        out.append("rnn4j against cuDNN (ms, medians; the full table: gpu-table.md)%s:" % (
            "; cuDNN not run: %s" % cudnn["skipped"] if cudnn.get("skipped") else ""))
        variants = []
        for v, _, _, _ in ours:
            if v not in variants:
                variants.append(v)
        for mode in ("fp32", "default", "fp16"):
            for v in variants:
                for p in ("forward", "trainingStep"):
                    ratios = [ms / theirs[(mode, sh, q)] for (w, sh, q, ms) in ours
                              if w == v and q == p and theirs.get((mode, sh, q))]
                    g = geomean(ratios)
                    if g:
                        out.append("  rnn4j %s / cuDNN %s, %s: geometric mean %.2fx over %d shapes (min %.2fx, "
                                   "max %.2fx)" % (v, mode, p, g, len(ratios), min(ratios), max(ratios)))
        peak = cudnn.get("peak_gflops")
        out.append("  %d rnn4j figures (%s)%s" % (len(ours), ", ".join(variants),
                                                  ", FP32 GEMM peak %.0f GFLOP/s" % peak if peak else ""))
        unsettled = unsettled_warmups(work, variants)
        if unsettled:
            out.append("  warm-up capped before the time per step settled: %s" % unsettled)
        out.append("")
    for r in phases:
        step = r.get("step_ms") or 0
        top = sorted(r.get("phases", []), key=lambda ph: -ph["ms"])[:4]
        parts = ["%s %.0f%%" % (ph["phase"], 100 * ph["ms"] / step) for ph in top if step]
        out.append("Phases %s on %s: step %.3f ms; gaps %.0f%%; %s" % (
            r["shape"], r["device"], step, 100 * r.get("gaps_ms", 0) / step if step else 0, "; ".join(parts)))
    if phases:
        out.append("")
    if info:
        out.append("run-java.sh info (%s):" % info_name)
        out += ["  " + l for l in info.rstrip().splitlines()[:40]]
    return "\n".join(out).rstrip() + "\n"


def unsettled_warmups(work, variants):
    names = []
    for v in variants:
        for line in read(os.path.join(work, "rnn4j-%s.jsonl" % v)).splitlines():
            try:
                r = json.loads(line)
            except ValueError:
                continue
            if r.get("settled") is False:
                names.append("%s %s %s (%s runs)" % (v, r.get("shape"), r.get("pass", "phases"), r.get("warmup")))
    return "; ".join(names[:8]) + (" (+%d more)" % (len(names) - 8) if len(names) > 8 else "")


def first_error_of(work, s):
    log = os.path.join(work, s["log"]) if s["log"] else ""
    if s["result"] == "TIMEOUT":
        tail = [l.strip() for l in read(log).splitlines() if l.strip()]
        return "killed at its limit; its last output: %s" % (" | ".join(tail[-2:])[:300] or "none")
    if s["name"] == "tests" or s["name"].startswith("sanitizer-"):
        if s["name"].startswith("sanitizer-"):
            _, first = sanitizer(log)
            if first:
                return first
        _, fails, _ = junit(os.path.join(work, junit_dir(s)))
        if fails:
            return "%s: %s" % fails[0] + ("  (+%d more failures)" % (len(fails) - 1) if len(fails) > 1 else "")
    return first_error(read(log))


CUDA_ERROR = re.compile(r"CUDA_ERROR_\w+|CUBLAS_STATUS_\w+|cudaError\w*|CudaException|\[rnn4j stand-in\]|"
                        r"SIGSEGV|SIGBUS|A fatal error has been detected|OutOfMemoryError|no usable cuBLAS")


def failures(work):
    """failures.txt: for each failed or timed-out step, everything needed to fix it without the GPU host."""
    out = []
    crash_reports = sorted(glob.glob(os.path.join(work, "hs_err_pid*.log")))
    for s in steps_of(work):
        if s["result"] not in ("FAIL", "TIMEOUT"):
            continue
        log = os.path.join(work, s["log"]) if s["log"] else ""
        text = read(log)
        out += ["=" * 100, "step %s %s: %s after %s s (limit %s s); log %s" % (
            s["id"], s["name"], s["result"], s["secs"], s["limit"], s["log"] or "(none)"), "=" * 100]
        if s["name"] == "tests" or s["name"].startswith("sanitizer-"):
            details = junit_failures(os.path.join(work, junit_dir(s)))
            if details:
                out.append("-- failing tests (JUnit XML, %s/): message, stack trace, captured output" % junit_dir(s))
                out += details
        errors = [l.rstrip() for l in text.splitlines() if CUDA_ERROR.search(l)]
        if errors:
            out.append("-- CUDA / cuBLAS / JVM errors in the log (%d lines, first 40, repeats dropped):" % len(errors))
            seen = []
            for l in errors:
                if l not in seen:
                    seen.append(l)
            out += ["  " + l[:400] for l in seen[:40]]
        lines = text.splitlines()
        out.append("-- the log's last %d of %d lines:" % (min(60, len(lines)), len(lines)))
        out += ["  " + l[:400] for l in lines[-60:]]
        out.append("")
    for path in crash_reports:
        text = read(path).splitlines()
        out += ["=" * 100, "JVM crash report %s (first 80 lines)" % os.path.basename(path), "=" * 100]
        out += text[:80] + [""]
    return "\n".join(out) + ("\n" if out else "")


def junit_failures(dir_, limit=15):
    """Each failing test of the JUnit XML in dir_: its message, the first 50 lines of its stack trace and
    the last 30 lines of its captured output."""
    out, n = [], 0
    for path in sorted(glob.glob(os.path.join(dir_, "*.xml"))):
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            out.append("  %s: unreadable JUnit XML: %s" % (os.path.basename(path), e))
            continue
        for case in root.iter("testcase"):
            bad = case.find("failure")
            if bad is None:
                bad = case.find("error")
            if bad is None:
                continue
            n += 1
            if n > limit:
                continue
            message = (bad.get("message") or "").strip().splitlines()
            out.append("  FAILED %s %s: %s" % (case.get("classname", "?"), case.get("name", "?"),
                                               message[0][:1000] if message else ""))
            # the stack trace starts with the whole message again
            out += ["    " + l for l in (bad.text or "").strip().splitlines()[:50 + len(message)]]
            for tag in ("system-out", "system-err"):
                captured = case.find(tag)
                if captured is not None and (captured.text or "").strip():
                    out.append("    -- %s (last 30 lines):" % tag)
                    out += ["    " + l for l in captured.text.strip().splitlines()[-30:]]
    if n > limit:
        out.append("  (+%d more failing tests in %s)" % (n - limit, dir_))
    return out


# ---------------------------------------------------------------- which test classes touch CUDA

CONSTANT_SIZES = {3: 4, 4: 4, 5: 8, 6: 8, 7: 2, 8: 2, 9: 4, 10: 4, 11: 4, 12: 4, 15: 3, 16: 2, 17: 4, 18: 4,
                  19: 2, 20: 2}   # bytes after the tag, by tag (1, UTF-8, has its own length)


def constant_pool(data):
    """(class names, (class, method name) of each method reference, UTF-8 strings) of one class file."""
    if data[:4] != b"\xca\xfe\xba\xbe":
        raise ValueError("not a class file")
    count = struct.unpack(">H", data[8:10])[0]
    entries, pos, i = {}, 10, 1
    while i < count:
        tag = data[pos]
        if tag == 1:
            n = struct.unpack(">H", data[pos + 1:pos + 3])[0]
            entries[i] = (1, data[pos + 3:pos + 3 + n].decode("utf-8", "replace"))
            pos += 3 + n
        elif tag in CONSTANT_SIZES:
            body = data[pos + 1:pos + 1 + CONSTANT_SIZES[tag]]
            if tag == 7:
                entries[i] = (7, struct.unpack(">H", body)[0])
            elif tag in (10, 11, 12):
                entries[i] = (tag, struct.unpack(">HH", body))
            pos += 1 + CONSTANT_SIZES[tag]
        else:
            raise ValueError("unknown constant pool tag %d at entry %d" % (tag, i))
        i += 2 if tag in (5, 6) else 1

    def text(index):
        e = entries.get(index)
        return e[1] if e and e[0] == 1 else None

    def class_name(index):
        e = entries.get(index)
        return text(e[1]) if e and e[0] == 7 else None

    names = {text(v) for t, v in entries.values() if t == 7}
    methods = set()
    for t, v in entries.values():
        if t in (10, 11):
            nat = entries.get(v[1])
            methods.add((class_name(v[0]), text(nat[1][0]) if nat and nat[0] == 12 else None))
    return names, methods, {v for t, v in entries.values() if t == 1}


def touches_cuda_directly(names, methods, strings):
    if any(n and n.startswith("org/rnn4j/cuda/") for n in names):
        return True
    if "org/rnn4j/Devices" in names or ("org/rnn4j/Device", "cuda") in methods:
        return True
    # @MethodSource("org.rnn4j.Devices#names") and the like name the helper as a string
    return any(s.startswith("org.rnn4j.Devices#") or s.startswith("org.rnn4j.cuda.") for s in strings)


def cuda_tests(root):
    classes = {}
    for path in glob.glob(os.path.join(root, "**", "*.class"), recursive=True):
        name = os.path.relpath(path, root)[:-len(".class")].replace(os.sep, "/")
        with open(path, "rb") as f:
            classes[name] = constant_pool(f.read())
    touching = {n for n, (names, methods, strings) in classes.items() if touches_cuda_directly(names, methods, strings)}
    changed = True
    while changed:   # through helpers: a class that uses a class of the folder that touches CUDA
        changed = False
        for n, (names, _, _) in classes.items():
            if n not in touching and (names & touching):
                touching.add(n)
                changed = True
    tops = sorted({n.split("$")[0] for n in touching})
    return [t.replace("/", ".") for t in tops if t.rsplit("/", 1)[-1].endswith(("Test", "Tests"))]


def reads_property(jar, name):
    needle = name.encode()
    with zipfile.ZipFile(jar) as z:
        for entry in z.namelist():
            if entry.endswith(".class") and needle in z.read(entry):
                return entry
    return None


def main():
    args = sys.argv[1:]
    if len(args) == 4 and args[0] == "summary":
        _, work, budget, elapsed = args
        text = summary(work, budget, elapsed)
        with open(os.path.join(work, "summary.txt"), "w") as f:
            f.write(text)
        fails = failures(work)
        path = os.path.join(work, "failures.txt")
        if fails:
            with open(path, "w") as f:
                f.write(fails)
        elif os.path.exists(path):
            os.remove(path)
        print(text, end="")
    elif len(args) == 2 and args[0] == "cuda-tests":
        names = cuda_tests(args[1])
        if not names:
            sys.exit("gpu_check_report.py cuda-tests: no test class in %s touches CUDA" % args[1])
        print("\n".join(names))
    elif len(args) == 3 and args[0] == "reads-property":
        entry = reads_property(args[1], args[2])
        if not entry:
            print("%s: no class names %s" % (args[1], args[2]))
            sys.exit(1)
        print("%s: %s names %s" % (args[1], entry, args[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
