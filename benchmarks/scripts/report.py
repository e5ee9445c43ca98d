#!/usr/bin/env python3
"""Turns one benchmark run into ONE markdown table (and a PNG chart of the ratios when matplotlib is there).

Inputs: the JMH JSON of benchmarks.jar (LayerBenchmark, and Dl4jLstmBenchmark in the CPU run) or the JSON
lines of the CLI's `bench --json` (what native/gpu-check.sh runs on a host without Maven) and, for a GPU run,
the JSON of cudnn_bench.py (cuDNN times and the measured FP32 GEMM peak).

  report.py --kind gpu --jmh raw/run.json --cudnn raw/cudnn.json --out results/2026-01-01-host.md
  report.py --kind gpu --bench rnn4j.jsonl --cudnn cudnn.json --stat median --out gpu-table.md
  report.py --kind gpu --bench eager=eager.jsonl --bench graphs=graphs.jsonl --cudnn cudnn.json ...
            (one column per rnn4j algorithm variant; cuDNN once per mode that cudnn_bench.py --modes ran)
  report.py --kind cpu --jmh raw/cpu.json --out results/cpu-2026-01-01.md

FLOPs count the GEMMs only (DESIGN.md): one layer-direction forward is 2*G*H*(I_k+H)*B*T with G = 4 (LSTM),
3 (GRU), 1 (RNN), summed over layers and directions; a training step is three times the forward.
Standard library only, so it runs in any python3.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

GATES = {"lstm": 4, "gru": 3, "tanh": 1, "relu": 1}
PASSES = {"forward": "forward (inference)", "trainingStep": "training step"}
SHAPE_RE = re.compile(r"^(lstm|gru|tanh|relu)((?:-\d+L)?)((?:-bi)?)-I(\d+)-H(\d+)-B(\d+)-T(\d+)$")


def parse_shape(spec):
    m = SHAPE_RE.match(spec)
    if not m:
        raise ValueError("shape: expected CELL[-NL][-bi]-I<n>-H<n>-B<n>-T<n>, got %r" % spec)
    cell, layers, bi, i, h, b, t = m.groups()
    return {"cell": cell, "layers": int(layers[1:-1]) if layers else 1, "dirs": 2 if bi else 1,
            "I": int(i), "H": int(h), "B": int(b), "T": int(t)}


def forward_flops(spec):
    s = parse_shape(spec)
    total = 0.0
    for k in range(s["layers"]):
        inp = s["I"] if k == 0 else s["dirs"] * s["H"]
        total += s["dirs"] * 2.0 * GATES[s["cell"]] * s["H"] * (inp + s["H"]) * s["B"] * s["T"]
    return total


def flops(spec, pass_):
    return forward_flops(spec) * (3 if pass_ == "trainingStep" else 1)


def describe_shape(spec):
    s = parse_shape(spec)
    name = {"lstm": "LSTM", "gru": "GRU", "tanh": "RNN tanh", "relu": "RNN relu"}[s["cell"]]
    extra = ""
    if s["layers"] > 1:
        extra += " %dL" % s["layers"]
    if s["dirs"] == 2:
        extra += " bidir"
    return "%s%s I=%d H=%d B=%d T=%d" % (name, extra, s["I"], s["H"], s["B"], s["T"])


def to_ms(score, unit):
    unit = unit.split("/")[0]
    return score * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3, "min": 6e4}[unit]


def load_jmh(paths, stat="mean"):
    """{(engine, device, shape, pass): (ms, error_ms, samples)} and the first entry (for the JVM).

    stat "mean" is JMH's score with its 99.9% error; "median" is the median of the measured iterations (no
    error shown), which a machine shared with other jobs disturbs less than the mean. Several files (rounds of
    one interleaved run) are pooled: a figure is then the median over the iterations of every round.
    GemmBenchmark entries are keyed ("gemm", device, product, "gemm"), FmaPeakBenchmark ("peak", ...).
    """
    out = {}
    pooled = {}
    first = None
    data = []
    for path in ([paths] if isinstance(paths, str) else paths or []):
        if path and os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path) as f:
                data += json.load(f)
    for e in data:
        first = first or e
        cls, method = e["benchmark"].rsplit(".", 2)[-2:]
        params = e.get("params", {})
        pm = e["primaryMetric"]
        unit = pm["scoreUnit"]
        ms = to_ms(pm["score"], unit)
        err = pm.get("scoreError")
        err = to_ms(err, unit) if isinstance(err, (int, float)) and err == err else None
        raw = [x for fork in pm.get("rawData", []) for x in fork]
        n = len(raw)
        if stat == "median" and raw:
            ms, err = to_ms(statistics.median(raw), unit), None
        if cls == "Dl4jLstmBenchmark":
            key = ("dl4j", "cpu", params["lstmShape"], method)
        elif cls == "DjlRnnBenchmark":
            key = ("pytorch", "cpu", params["shape"], method)
        elif cls == "GemmBenchmark":
            key = ("gemm", params.get("device", "cpu"), params["product"], "gemm")
        elif cls == "FmaPeakBenchmark":
            key = ("peak", "cpu", "%d thread(s)" % e.get("threads", 1), method)
        else:
            key = ("rnn4j", params.get("device", "cpu"), params["shape"], method)
        if key in out:
            pooled.setdefault(key, [to_ms(x, unit) for x in out[key][3]])
            pooled[key] += [to_ms(x, unit) for x in raw]
            allraw = pooled[key]
            out[key] = (statistics.median(allraw) if stat == "median" else statistics.mean(allraw), None,
                        len(allraw), raw)
        else:
            out[key] = (ms, err, n, raw)
    return {k: v[:3] for k, v in out.items()}, first


def load_bench(path, variant=None):
    """The figures of `rnn4j bench --json` (one JSON object a line; "figure" lines only), keyed like load_jmh's;
    the engine is "rnn4j", or "rnn4j VARIANT" for a named algorithm variant."""
    out = {}
    if not path or not os.path.exists(path):
        return out
    engine = "rnn4j %s" % variant if variant else "rnn4j"
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get("kind") == "figure":
                device = "cuda" if r["device"].startswith("cuda") else r["device"]
                out[(engine, device, r["shape"], r["pass"])] = (r["ms"], None, len(r.get("samples_ms", [])))
    return out


CUDNN_MODES = {"fp32": "cuDNN FP32", "default": "cuDNN default (TF32)", "fp16": "cuDNN FP16"}


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:  # noqa: BLE001 - a missing tool only leaves the field empty
        return ""


def machine_lines(jmh_first, load_before, load_after, notes):
    model = sh("lscpu | sed -n 's/^Model name: *//p' | head -1") or "unknown CPU"
    cores = sh("nproc") or "?"
    mem = sh("free -g | awk '/^Mem:/{print $2}'")
    host = os.environ.get("RNN4J_MACHINE") or sh("hostname")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    # RNN4J_COMMIT: where there is no git checkout (a bundle on a GPU host), the commit it was built from
    commit = os.environ.get("RNN4J_COMMIT") or sh("git -C '%s' rev-parse --short HEAD" % root) or "unknown"
    dirty = "" if os.environ.get("RNN4J_COMMIT") else sh("git -C '%s' status --porcelain -- src kernels native pom.xml" % root)
    lines = ["- machine: %s, %s CPU%s, %s GiB (`%s`)" % (model, cores, "" if cores == "1" else "s", mem or "?", host)]
    if jmh_first:
        lines.append("- JVM: %s %s (JMH %s)" % (jmh_first.get("vmName", ""), jmh_first.get("vmVersion", ""),
                                                jmh_first.get("jmhVersion", "")))
        lines.append("- JMH: %s forks, %s warm-up x %s, %s measured x %s, mode %s" % (
            jmh_first.get("forks"), jmh_first.get("warmupIterations"), jmh_first.get("warmupTime"),
            jmh_first.get("measurementIterations"), jmh_first.get("measurementTime"), jmh_first.get("mode")))
    else:
        java = os.environ.get("RNN4J_JVM") or sh("java -version 2>&1 | head -1")
        lines.append("- JVM: %s" % (java or "not found"))
    lines.append("- commit: %s%s" % (commit, " (with uncommitted changes under src/, kernels/, native/)" if dirty else ""))
    if shutil.which("nvidia-smi"):
        gpu = sh("nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader")
        lines.append("- GPU: %s" % (gpu or "nvidia-smi found but it reported nothing"))
    else:
        lines.append("- GPU: none (no nvidia-smi)")
    if load_before or load_after:
        lines.append("- load (uptime) before: `%s`; after: `%s`" % (load_before or "?", load_after or "?"))
    for n in notes:
        lines.append("- " + n)
    return lines


def fmt(v, digits=1):
    if v is None:
        return "—"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return ("%." + str(max(digits, 2)) + "f") % v


def fmt_ms(entry):
    if not entry:
        return "—"
    ms, err, _ = entry
    return fmt(ms) + (" ± " + fmt(err) if err is not None and err > 0 else "")


def gflops(spec, pass_, entry):
    return None if not entry else flops(spec, pass_) / (entry[0] * 1e6)


def ordered_shapes(keys):
    seen = []
    for k in keys:
        if k[2] not in seen:
            seen.append(k[2])
    return seen


def cpu_table(jmh):
    head = ["shape", "pass", "rnn4j ms", "PyTorch ms", "DL4J ms", "rnn4j ÷ PyTorch", "rnn4j ÷ DL4J",
            "rnn4j GFLOP/s", "PyTorch GFLOP/s"]
    rows, chart = [], []
    for spec in ordered_shapes(k for k in jmh if k[1] == "cpu" and k[0] in ("rnn4j", "pytorch", "dl4j")):
        for p in PASSES:
            ours = jmh.get(("rnn4j", "cpu", spec, p))
            torch = jmh.get(("pytorch", "cpu", spec, p))
            dl4j = jmh.get(("dl4j", "cpu", spec, p))
            if not ours and not torch and not dl4j:
                continue
            vs_torch = ours[0] / torch[0] if ours and torch else None
            vs_dl4j = ours[0] / dl4j[0] if ours and dl4j else None
            if vs_torch is not None:
                chart.append(("%s %s" % (describe_shape(spec), "fwd" if p == "forward" else "train"), vs_torch))
            rows.append([describe_shape(spec), PASSES[p], fmt_ms(ours), fmt_ms(torch), fmt_ms(dl4j),
                         fmt(vs_torch, 2) + ("x" if vs_torch else ""), fmt(vs_dl4j, 2) + ("x" if vs_dl4j else ""),
                         fmt(gflops(spec, p, ours)), fmt(gflops(spec, p, torch))])
    return head, rows, chart


def gemm_table(jmh):
    """The GEMM alone against the FMA peak of the same run (all cores)."""
    peak_all = jmh.get(("peak", "cpu", "%d thread(s)" % (os.cpu_count() or 1), "allCores"))
    peak_one = jmh.get(("peak", "cpu", "1 thread(s)", "oneCore"))
    # FmaPeakBenchmark: 1e6 steps x 12 vector FMAs x 2 FLOPs x lanes per call and thread; lanes from the note
    lanes = int(os.environ.get("RNN4J_FLOAT_LANES", "16"))
    per_call = 1e6 * 12 * 2 * lanes
    lines = []
    peak = None
    if peak_all:
        peak = per_call * (os.cpu_count() or 1) / (peak_all[0] * 1e6)
        lines.append("FP32 FMA peak (register-resident vector FMA loop, %d lanes): %s GFLOP/s on all %d cores, "
                     "%s GFLOP/s on one" % (lanes, fmt(peak, 0), os.cpu_count() or 1,
                                            fmt(per_call / (peak_one[0] * 1e6), 0) if peak_one else "?"))
    rows = []
    for k, v in jmh.items():
        if k[0] != "gemm":
            continue
        ta, tb, m, n, kk = k[2].split("-")
        g = 2.0 * int(m) * int(n) * int(kk) / (v[0] * 1e6)
        rows.append(["%s x %s x %s (%s,%s)" % (m, n, kk, ta, tb), fmt(v[0], 3), fmt(g, 0),
                     fmt(100 * g / peak, 0) + "%" if peak else "-"])
    if rows:
        lines += [""] + markdown_table(["GEMM M x N x K (op A, op B)", "ms", "GFLOP/s", "of peak"], rows)
    return lines


def gpu_table(jmh, cudnn):
    """One row per shape and pass: each rnn4j variant's ms, each cuDNN mode's ms, the best rnn4j variant
    against cuDNN FP32 (TF32 off: the same arithmetic) and against PyTorch's defaults, GFLOP/s, CPU."""
    peak = cudnn.get("peak_gflops") if cudnn else None
    cud = {}
    for r in (cudnn or {}).get("results", []):
        cud[(r.get("mode", "fp32"), r["shape"], r["pass"])] = r["ms"]
    modes = [m for m in CUDNN_MODES if any(k[0] == m for k in cud)] or ["fp32"]
    variants = []
    for k in jmh:
        if k[1] == "cuda" and k[0].startswith("rnn4j") and k[0] not in variants:
            variants.append(k[0])
    variants = variants or ["rnn4j"]
    label = {v: v.replace("rnn4j ", "") for v in variants}
    head = ["shape", "pass"] + ["%s GPU ms" % v for v in variants] + ["%s ms" % CUDNN_MODES[m] for m in modes]
    head += ["best rnn4j / cuDNN FP32"] + (["best rnn4j / cuDNN default"] if "default" in modes else [])
    head += ["best rnn4j GFLOP/s", "% of FP32 peak"]
    has_cpu = any(k[0] == "rnn4j" and k[1] == "cpu" for k in jmh)
    if has_cpu:
        head += ["rnn4j CPU ms", "GPU vs CPU"]
    rows, chart = [], []
    shapes = ordered_shapes(list(jmh.keys()) + [("cudnn", "cuda", s, p) for (_, s, p) in cud])
    for spec in shapes:
        for p in PASSES:
            gpu = {v: jmh.get((v, "cuda", spec, p)) for v in variants}
            timed = [(e[0], v) for v, e in gpu.items() if e]
            best = min(timed) if timed else None
            cpu = jmh.get(("rnn4j", "cpu", spec, p))
            theirs = {m: cud.get((m, spec, p)) for m in modes}
            if not timed and not cpu and not any(theirs.values()):
                continue

            def ratio(mode):
                c = theirs.get(mode)
                if not best or not c:
                    return "—"
                r = best[0] / c
                return "%sx%s" % (fmt(r, 2), " (%s)" % label[best[1]] if len(timed) > 1 else "")

            if best and theirs.get("fp32"):
                chart.append(("%s %s" % (describe_shape(spec), "fwd" if p == "forward" else "train"),
                              best[0] / theirs["fp32"]))
            g = gflops(spec, p, (best[0], None, 0)) if best else None
            pct = 100.0 * g / peak if g and peak else None
            row = [describe_shape(spec), PASSES[p]] + [fmt_ms(gpu[v]) for v in variants]
            row += [fmt(theirs[m]) for m in modes] + [ratio("fp32")] + ([ratio("default")] if "default" in modes else [])
            row += [fmt(g), fmt(pct) + ("%" if pct else "")]
            if has_cpu:
                speed = cpu[0] / best[0] if cpu and best else None
                row += [fmt_ms(cpu), fmt(speed) + ("x" if speed else "")]
            rows.append(row)
    return head, rows, chart


def markdown_table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---", "---"] + ["---:"] * (len(head) - 2)) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def write_chart(chart, path, title, ylabel, reference):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "chart skipped: matplotlib is not installed in %s" % sys.executable
    if not chart:
        return "chart skipped: no shape has both figures"
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(chart) + 2), 4.5))
    ax.bar(range(len(chart)), [v for _, v in chart], color="#4472c4")
    ax.axhline(reference, color="black", linewidth=0.8)
    ax.set_xticks(range(len(chart)))
    ax.set_xticklabels([n for n, _ in chart], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", choices=["gpu", "cpu"], required=True)
    ap.add_argument("--jmh", nargs="+", help="JMH JSON (-rf json) of benchmarks.jar; several = rounds, pooled")
    ap.add_argument("--bench", action="append", default=[],
                    help="JSON lines of `rnn4j bench --json` (instead of --jmh), or VARIANT=FILE for one of rnn4j's "
                         "algorithm variants (repeatable: one column each)")
    ap.add_argument("--cudnn", help="JSON written by cudnn_bench.py")
    ap.add_argument("--out", required=True, help="markdown file to write")
    ap.add_argument("--chart", help="PNG to write (default: --out with .png)")
    ap.add_argument("--title", default=None)
    ap.add_argument("--load-before", default="")
    ap.add_argument("--load-after", default="")
    ap.add_argument("--stat", choices=["mean", "median"], default="mean",
                    help="per figure: JMH's mean with its error (default), or the median of the iterations")
    ap.add_argument("--note", action="append", default=[], help="a line for the header (repeatable)")
    a = ap.parse_args()

    jmh, first = load_jmh(a.jmh, a.stat)
    for b in a.bench:
        variant, path = b.split("=", 1) if "=" in b else (None, b)
        jmh.update(load_bench(path, variant))
    cudnn = None
    if a.cudnn and os.path.exists(a.cudnn):
        with open(a.cudnn) as f:
            cudnn = json.load(f)
    notes = list(a.note)
    if a.kind == "gpu":
        if cudnn is None:
            notes.append("cuDNN: not run (no result file)")
        elif cudnn.get("skipped"):
            notes.append("cuDNN: not run: %s" % cudnn["skipped"])
        else:
            notes.append("cuDNN: PyTorch %s, cuDNN %s on %s; median of %s CUDA-event timings after %s warm-up; "
                         "modes: %s" % (cudnn.get("torch"), cudnn.get("cudnn"), cudnn.get("device"),
                                        cudnn.get("repeats"), cudnn.get("warmup"),
                                        "; ".join("%s = %s" % (m, d) for m, d in
                                                  cudnn.get("modes", {"fp32": "FP32, TF32 off"}).items())))
            for e in cudnn.get("errors", []):
                notes.append("cuDNN failed at %s %s: %s" % (e.get("shape"), e.get("mode", ""), e.get("error")))
            if cudnn.get("peak_gflops"):
                notes.append("measured FP32 GEMM peak (torch.mm %s, TF32 off): %.0f GFLOP/s"
                             % (cudnn.get("peak_shape", ""), cudnn["peak_gflops"]))
        head, rows, chart = gpu_table(jmh, cudnn)
        ylabel, ref = "rnn4j ms / cuDNN ms (<1: rnn4j faster)", 1.0
    else:
        head, rows, chart = cpu_table(jmh)
        ylabel, ref = "rnn4j ms / PyTorch ms (<1: rnn4j faster)", 1.0
    title = a.title or ("rnn4j %s benchmarks, %s" % (a.kind.upper(), datetime.date.today().isoformat()))

    lines = ["# " + title, ""]
    lines += machine_lines(first, a.load_before, a.load_after, notes)
    lines += ["", "GFLOP/s counts GEMM FLOPs only: forward 2·G·H·(I+H)·B·T per layer-direction (G = 4 LSTM, "
              "3 GRU, 1 RNN), training step (forward + backward with weight gradients, no update) 3×. "
              + ("rnn4j ms: median of `bench --json`'s timed runs; best = the fastest rnn4j variant." if a.bench and not a.jmh else
                 "± is JMH's 99.9% error where it had enough samples." if a.stat == "mean" else
                 "ms: median of the JMH measurement iterations (one operation or more each), pooled over rounds.")
              + " See benchmarks/README.md.", ""]
    if rows:
        lines += markdown_table(head, rows)
    else:
        lines.append("No results: nothing ran (see the notes above).")
    if a.kind == "cpu":
        lines += [""] + gemm_table(jmh)
    chart_path = a.chart or os.path.splitext(a.out)[0] + ".png"
    why = write_chart(chart, chart_path, title, ylabel, ref)
    lines.append("")
    if why:
        lines.append("(%s)" % why)
        print(why)
    else:
        lines.append("![ratios](%s)" % os.path.basename(chart_path))
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote " + a.out)


if __name__ == "__main__":
    main()
