#!/usr/bin/env python3
"""The cuDNN side-by-side: the benchmark shapes through PyTorch's nn.LSTM / nn.GRU / nn.RNN (cuDNN).

--modes picks the comparisons, run in this order, every shape in each (default fp32):
  fp32      FP32 with TF32 off for cuBLAS and cuDNN's RNNs ("ieee"): the same arithmetic as rnn4j's FP32 GEMMs
  default   PyTorch's defaults as a user gets them (cuDNN may use TF32), FP32 tensors
  fp16      module and input in FP16, PyTorch's defaults (cuDNN's persistent kernels where it picks them)
Each figure is the median of --repeat CUDA-event timings after --warmup untimed runs:
  forward        torch.no_grad(), module.eval()
  trainingStep   module.train(), forward, then (output.sum()).backward(): input and weight gradients,
                 no optimizer step (the same work as rnn4j's training step with dY = 1)
It also measures the card's FP32 GEMM peak with a large torch.mm (TF32 off), for the "% of peak" column.
--out is rewritten after every shape, so a run cut off keeps what it measured.

  cudnn_bench.py --suite deepbench,small,bidir --out raw/cudnn.json [--quick] [--modes fp32,default,fp16]
  cudnn_bench.py --suite deepbench,small --list     # the shape strings, one a line (native/gpu-check.sh)

The shapes are the Shape strings of benchmarks/src/main/java/org/rnn4j/bench/Suites.java, e.g.
lstm-I512-H512-B64-T25, lstm-2L-bi-I512-H512-B64-T100. Where torch or CUDA is missing it says so, writes a
result with "skipped" set and no figures, and exits 0.
"""
import argparse
import json
import re
import statistics
import sys


def suite_shapes(name):
    if name == "cpu":
        return ["lstm-I128-H128-B32-T50", "lstm-I256-H256-B32-T100", "lstm-I512-H512-B64-T50",
                "lstm-I1024-H1024-B16-T25", "gru-I256-H256-B32-T100", "tanh-I256-H256-B32-T100"]
    if name == "deepbench":
        out = ["lstm-I%d-H%d-B%d-T25" % (h, h, b) for h in (512, 1024, 2048) for b in (16, 32, 64, 128)]
        out += ["gru-I%d-H%d-B32-T%d" % (h, h, t) for h in (1024, 2048) for t in (187, 375)]
        out += ["relu-I%d-H%d-B%d-T50" % (h, h, b) for h in (1760, 2560) for b in (16, 64)]
        return out
    if name == "small":
        return (["lstm-I%d-H%d-B%d-T50" % (h, h, b) for b in (1, 4, 16) for h in (128, 256, 512, 1024)]
                + ["%s-I%d-H%d-B%d-T50" % (c, h, h, b) for c in ("gru", "tanh") for b in (1, 16) for h in (256, 1024)])
    if name == "bidir":
        return ["lstm-2L-bi-I512-H512-B64-T100"]
    if name == "gpu":
        return suite_shapes("deepbench") + suite_shapes("small") + suite_shapes("bidir")
    if name == "tiny":
        return ["lstm-I16-H16-B4-T5", "gru-I16-H16-B4-T5", "tanh-I16-H16-B4-T5"]
    raise SystemExit("cudnn_bench.py: unknown suite %r (cpu, deepbench, small, bidir, gpu, tiny)" % name)


SHAPE_RE = re.compile(r"^(lstm|gru|tanh|relu)((?:-\d+L)?)((?:-bi)?)-I(\d+)-H(\d+)-B(\d+)-T(\d+)$")


def parse(spec):
    m = SHAPE_RE.match(spec)
    if not m:
        raise SystemExit("cudnn_bench.py: bad shape %r" % spec)
    cell, layers, bi, i, h, b, t = m.groups()
    return cell, int(layers[1:-1]) if layers else 1, bool(bi), int(i), int(h), int(b), int(t)


def write(path, result):
    text = json.dumps(result, indent=2)
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


def event_time(torch, fn, warmup, repeat):
    """Median milliseconds of fn() over `repeat` CUDA-event timings after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeat):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times), times


def gemm_peak(torch, n, warmup, repeat):
    a = torch.randn(n, n, device="cuda", dtype=torch.float32)
    b = torch.randn(n, n, device="cuda", dtype=torch.float32)
    c = torch.empty(n, n, device="cuda", dtype=torch.float32)
    ms, _ = event_time(torch, lambda: torch.mm(a, b, out=c), warmup, repeat)
    return 2.0 * n ** 3 / (ms * 1e6)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", default="gpu", help="comma-separated suite names (default gpu)")
    ap.add_argument("--shape", action="append", default=[], help="a shape string (repeatable; replaces --suite)")
    ap.add_argument("--out", help="JSON file to write (default: stdout)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=30, help="timed runs per figure (>= 20 unless --quick)")
    ap.add_argument("--quick", action="store_true", help="warm-up 3, median of 20")
    ap.add_argument("--peak-n", type=int, default=8192, help="size of the square GEMM for the FP32 peak")
    ap.add_argument("--list", action="store_true", help="print the shapes, one a line, and exit")
    ap.add_argument("--modes", default="fp32", help="comma-separated: fp32 (TF32 off), default (PyTorch's "
                    "defaults), fp16 (default fp32)")
    a = ap.parse_args()
    modes = [m.strip() for m in a.modes.split(",") if m.strip()]
    for m in modes:
        if m not in MODES:
            raise SystemExit("cudnn_bench.py: --modes: expected fp32, default or fp16, got %r" % m)
    if a.quick:
        a.warmup, a.repeat = 3, 20

    shapes = a.shape or [s for name in a.suite.split(",") if name for s in suite_shapes(name.strip())]
    if a.list:
        print("\n".join(shapes))
        return 0
    result = {"skipped": None, "results": [], "warmup": a.warmup, "repeats": a.repeat}
    try:
        import torch
    except ImportError as e:
        result["skipped"] = "PyTorch is not installed in %s (%s)" % (sys.executable, e)
        print("cudnn_bench.py: " + result["skipped"] + "; nothing measured")
        write(a.out, result)
        return 0
    if not torch.cuda.is_available():
        result["skipped"] = "torch %s sees no usable CUDA device" % torch.__version__
        print("cudnn_bench.py: " + result["skipped"] + "; nothing measured")
        write(a.out, result)
        return 0

    defaults = tf32_flags(torch)
    torch.manual_seed(0)
    result.update({"torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
                   "device": torch.cuda.get_device_name(0), "modes": {}})

    set_tf32(torch, EXACT)
    peak = gemm_peak(torch, a.peak_n, 3, 10)
    result["peak_gflops"] = peak
    result["peak_shape"] = "%dx%dx%d" % (a.peak_n, a.peak_n, a.peak_n)
    print("FP32 GEMM peak (torch.mm %d^3, TF32 off): %.0f GFLOP/s" % (a.peak_n, peak))

    for mode in modes:
        try:
            set_tf32(torch, EXACT if mode == "fp32" else defaults)
            matmul, rnn = tf32_flags(torch)
            result["modes"][mode] = "%s tensors, cuBLAS FP32 matmul %s, cuDNN RNN FP32 %s" % (
                "FP16" if mode == "fp16" else "FP32", matmul, rnn)
        except (RuntimeError, AttributeError) as e:   # a PyTorch whose TF32 switches moved: say so, go on
            print("mode %s: cannot set the TF32 switches: %s" % (mode, e))
            result.setdefault("errors", []).append({"shape": "(all)", "mode": mode, "error": str(e)[:300]})
            continue
        print("mode %s: %s" % (mode, result["modes"][mode]))
        run_mode(torch, mode, shapes, a, result)
    write(a.out, result)
    return 0


MODES = ("fp32", "default", "fp16")
EXACT = ("ieee", "ieee")


def new_tf32_api(torch):
    """PyTorch 2.9+ sets TF32 per backend with fp32_precision; mixing it with the legacy allow_tf32 raises."""
    return hasattr(torch.backends.cuda.matmul, "fp32_precision") and hasattr(torch.backends.cudnn, "rnn")


def tf32_flags(torch):
    """(cuBLAS matmul, cuDNN RNN) FP32 precision: "ieee", "tf32" (or "none": PyTorch's own default)."""
    if new_tf32_api(torch):
        return torch.backends.cuda.matmul.fp32_precision, torch.backends.cudnn.rnn.fp32_precision
    return tuple("tf32" if f else "ieee" for f in (torch.backends.cuda.matmul.allow_tf32,
                                                    torch.backends.cudnn.allow_tf32))


def set_tf32(torch, flags):
    matmul, rnn = flags
    if new_tf32_api(torch):
        torch.backends.cuda.matmul.fp32_precision = matmul
        torch.backends.cudnn.rnn.fp32_precision = rnn
    else:
        torch.backends.cuda.matmul.allow_tf32 = matmul == "tf32"
        torch.backends.cudnn.allow_tf32 = rnn == "tf32"
    torch.backends.cudnn.benchmark = False


def run_mode(torch, mode, shapes, a, result):
    """Times every shape in one mode, appending to result["results"] and rewriting --out after each."""
    dtype = torch.float16 if mode == "fp16" else torch.float32
    for spec in shapes:
        cell, layers, bi, inp, hid, batch, steps = parse(spec)
        kw = dict(input_size=inp, hidden_size=hid, num_layers=layers, bidirectional=bi)
        if cell == "lstm":
            mod = torch.nn.LSTM(**kw)
        elif cell == "gru":
            mod = torch.nn.GRU(**kw)
        else:
            mod = torch.nn.RNN(nonlinearity=cell, **kw)
        mod = mod.cuda().to(dtype)
        x = torch.randn(steps, batch, inp, device="cuda", dtype=dtype)
        x_grad = x.clone().requires_grad_(True)

        def forward():
            with torch.no_grad():
                mod(x)

        def training_step():
            out, _ = mod(x_grad)
            out.sum().backward()

        try:
            mod.eval()
            fwd_ms, fwd_all = event_time(torch, forward, a.warmup, a.repeat)
            mod.train()
            trn_ms, trn_all = event_time(torch, training_step, a.warmup, a.repeat)
        except RuntimeError as e:  # out of memory on a small card, say
            print("%-32s %-7s failed: %s" % (spec, mode, str(e).splitlines()[0]))
            result.setdefault("errors", []).append({"shape": spec, "mode": mode, "error": str(e)[:300]})
            torch.cuda.empty_cache()
            continue
        for p, ms, allv in (("forward", fwd_ms, fwd_all), ("trainingStep", trn_ms, trn_all)):
            result["results"].append({"shape": spec, "pass": p, "mode": mode, "ms": ms, "samples": len(allv),
                                      "min_ms": min(allv), "max_ms": max(allv)})
        print("%-32s %-7s forward %9.3f ms   training step %9.3f ms" % (spec, mode, fwd_ms, trn_ms))
        del mod, x, x_grad
        torch.cuda.empty_cache()
        if a.out:
            write(a.out, result)


if __name__ == "__main__":
    sys.exit(main())
