#!/usr/bin/env python3
"""native/standin/plant-bugs.py [--keep DIR] [BUG ...] — proof that the stand-in suite catches bugs.

Copies the repository's tracked and new, not ignored files (as they are in the working tree) to a temporary directory,
builds that copy once (fatbins, test classes, the stand-in), runs the tests once without any bug
(they must pass, the CUDA cases must not skip), then for each bug below: reverts the copy
(git checkout), plants the bug (an exact text edit that must apply), rebuilds what it touched
(the stand-in from the edited kernel source, or the Java classes; the fatbins are never rebuilt,
the stand-in accepts them by content and compiles the kernel sources itself), runs the tests
that bug concerns and records whether they failed, the first failure and the time. Prints a
markdown table (the one in CONTRIBUTING.md) and exits 1 when any bug was not caught, except those
marked as a known gap of the stand-in (shown with the reason).

Never touches the working tree. About half an hour on a shared 2-core machine; BUG names select
a subset (see BUGS). --keep DIR reuses (or leaves) a built copy in DIR.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PARITY = "GpuParityTest"
MARKER = ".plant-bugs-copy"   # in a copy this script made (git ignores nothing else there)
TRAIN = "ClippingTest,LossesTest,OptimizerTest"
PERSISTENT = "PersistentRecurrenceTest"


class Bug:
    def __init__(self, name, what, path, old, new, tests=PARITY, execution="default-test", gap=None):
        self.name, self.what, self.path, self.old, self.new = name, what, path, old, new
        self.tests, self.execution = tests, execution
        self.gap = gap   # why the stand-in cannot catch it (shown, not counted as a miss)

    @property
    def native(self):
        """Whether the stand-in must be rebuilt (a kernel source changed)."""
        return self.path.startswith("kernels/") or self.path.startswith("native/standin/")


# Each bug replaces the first occurrence of `old` (which must occur) in `path`.
BUGS = [
    Bug("lstm-gates", "LSTM forward cell (common.cuh, both paths) takes the forget gate from the output gate's pre-activation",
        "kernels/common.cuh",
        "sigmoidf(preF + pF * cPrev)", "sigmoidf(preO + pF * cPrev)"),
    Bug("lstm-gates-o", "LSTM forward cell (common.cuh, both paths) takes the output gate from the forget gate's pre-activation",
        "kernels/common.cuh",
        "s.o = sigmoidf(preO + pO * s.c);", "s.o = sigmoidf(preF + pO * s.c);"),
    Bug("gru-gates", "GRU forward (reset-after) swaps r and z",
        "kernels/gru.cu",
        "const float r = sigmoidf(gatePre(xp, hp, bih, bhh, row, GATE_R * H + j));\n"
        "    const float z = sigmoidf(gatePre(xp, hp, bih, bhh, row, GATE_Z * H + j));",
        "const float r = sigmoidf(gatePre(xp, hp, bih, bhh, row, GATE_Z * H + j));\n"
        "    const float z = sigmoidf(gatePre(xp, hp, bih, bhh, row, GATE_R * H + j));"),
    Bug("rnn-relu", "RNN activation (common.cuh, both paths) ignores the relu flag (always tanh)",
        "kernels/common.cuh",
        "relu ? (pre <= 0.0f ? 0.0f : pre) : tanhf(pre)", "tanhf(pre)"),
    Bug("blocksum-sync", "blockSum drops the __syncthreads between writing its value and the tree",
        "kernels/common.cuh",
        "double* sh) {\n    sh[threadIdx.x] = v;\n    __syncthreads();\n",
        "double* sh) {\n    sh[threadIdx.x] = v;\n", tests=TRAIN),
    Bug("divergent-sync", "blockSum's tree barrier moved inside `if (threadIdx.x < half)` (divergent __syncthreads)",
        "kernels/common.cuh",
        "sh[threadIdx.x] += sh[threadIdx.x + half];\n        }\n        __syncthreads();",
        "sh[threadIdx.x] += sh[threadIdx.x + half];\n            __syncthreads();\n        }", tests=TRAIN),
    Bug("reverse-off-by-one", "per-sample reversal reads src[len - t] instead of src[len - 1 - t]",
        "kernels/sequence.cu",
        "src[((long long)(len - 1 - t) * batch + b) * srcLd + f]",
        "src[((long long)(len - t) * batch + b) * srcLd + f]"),
    Bug("reverse-padding", "per-sample reversal also copies at t == len (the first padded step)",
        "kernels/sequence.cu",
        "if (t < len) {\n            const float v = src[((long long)(len - 1 - t)",
        "if (t <= len) {\n            const float v = src[((long long)(len - 1 - t)"),
    Bug("gemm-transpose", "GEMM mapping: the second cuBLAS operand (A) transposed when it must not be and vice versa",
        "src/main/java/org/rnn4j/cuda/ColumnMajorGemm.java",
        "transA ? CublasBinding.OP_T : CublasBinding.OP_N", "transA ? CublasBinding.OP_N : CublasBinding.OP_T"),
    Bug("gemm-ld", "GEMM mapping: lda and ldb swapped",
        "src/main/java/org/rnn4j/cuda/ColumnMajorGemm.java",
        "n, m, k, ldb, lda, ldc);", "n, m, k, lda, ldb, ldc);"),
    Bug("offset-bytes-cublas", "CudaBuffer.address (kernel and cuBLAS pointers) offsets by elements as if they were bytes",
        "src/main/java/org/rnn4j/cuda/CudaBuffer.java",
        "return block.address + offset * dtype.bytes();", "return block.address + offset;"),
    Bug("lstm-mask", "LSTM forward ignores valid(lengths, b, step): padded steps update the state",
        "kernels/lstm.cu",
        "if (!valid(lengths, b, step)) {", "if (false) {"),
    Bug("lstm-mask-backward", "LSTM backward ignores valid(lengths, b, step) at padded steps",
        "kernels/lstm.cu",
        "if (!valid(lengths, b, step)) {\n        dGx[gates + GATE_I * H] = 0.0f;",
        "if (false) {\n        dGx[gates + GATE_I * H] = 0.0f;"),
    Bug("allocate-unzeroed", "CudaEngine.allocate without its zeroing memset (fresh memory read before written)",
        "src/main/java/org/rnn4j/cuda/CudaEngine.java",
        "if (elements > 0) {\n            try {\n                int status = Lib.cuMemsetD32Async(buffer.address(0)",
        "if (false) {\n            try {\n                int status = Lib.cuMemsetD32Async(buffer.address(0)"),
    Bug("lstm-reads-output", "LSTM forward reads c from cNext, its output, before writing it (instead of cPrev)",
        "kernels/lstm.cu",
        "const float cp = cPrev[state];", "const float cp = cNext[state];"),
    Bug("download-no-sync", "download reads the pinned staging buffer without cuStreamSynchronize",
        "src/main/java/org/rnn4j/cuda/CudaEngine.java",
        '                status = Lib.cuStreamSynchronize(queue());\n'
        '                if (status != CUresult.CUDA_SUCCESS) {\n'
        '                    throw Driver.failure(status, "cuStreamSynchronize", "download from " + src);\n'
        '                }\n',
        "", execution="cuda-jna-deferred"),
    Bug("grid-short", "cell launches: grid of floor(work / 256) blocks, one too few unless a multiple of 256",
        "src/main/java/org/rnn4j/cuda/CudaEngine.java",
        "launch(kernel, ceilDiv(work, THREADS), args);", "launch(kernel, Math.max(1, work / THREADS), args);"),
    Bug("write-past-end", "RNN forward guard `t > batch*hidden`: one thread past the end writes",
        "kernels/rnn.cu",
        "if (t >= batch * hidden) {", "if (t > batch * hidden) {",
        execution="cuda-jna-deferred"),   # exact allocations there: the caching pool would absorb it
    Bug("dropout-seed", "dropout kernel draws the mask at index i + 1 (seed/offset mix-up)",
        "kernels/sequence.cu",
        "dropoutUniform(seed, i) >= p", "dropoutUniform(seed, i + 1) >= p", tests=PARITY),
    Bug("softmax-no-max", "softmax cross-entropy skips the row-max shift (exp overflows for large logits)",
        "kernels/common.cuh",
        "const float mx = blockMax(m, shMax);", "const float mx = 0.0f * blockMax(m, shMax);",
        tests="LossesTest"),
    Bug("nonfinite-flag", "hasNonFinite does not reset its device flag (stale or garbage flag read)",
        "src/main/java/org/rnn4j/cuda/CudaEngine.java",
        '            Driver.check(Lib.cuMemsetD32Async(flag, 0, 1, queue()), "cuMemsetD32Async", "hasNonFinite flag");\n',
        "", tests=PARITY),
    # Stand-in level (native/standin/checks_test.cpp's correct use, broken): what the stand-in catches
    # in streams and graphs before the engine uses them; the engine-level forms (#19's graphs and side
    # stream in org.rnn4j.cuda) follow below.
    Bug("missing-event-wait", "a consumer stream without cuStreamWaitEvent for its producer (stand-in level)",
        "native/standin/checks_test.cpp",
        '    expectStatus(cuStreamWaitEvent(c, e, 0), CUDA_SUCCESS, "cuStreamWaitEvent across streams");\n', "",
        tests="StandinChecksTest"),
    Bug("capture-alloc", "a buffer allocated after cuStreamBeginCapture instead of before (stand-in level)",
        "native/standin/checks_test.cpp",
        "    cuMemAlloc(&scratch, 128);   // before the capture\n    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);\n",
        "    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);\n    cuMemAlloc(&scratch, 128);\n",
        tests="StandinChecksTest"),
    Bug("graph-stale-pointer", "a replayed graph keeps the pointer of a buffer that moved (no kernel-node update; stand-in level)",
        "native/standin/checks_test.cpp",
        "    cuGraphExecKernelNodeSetParams(exec, nodes[0], &np);   // the replay follows the buffer\n", "",
        tests="StandinChecksTest"),
    Bug("graph-freed-buffer", "a graph replayed after its buffer was freed (stand-in level)",
        "native/standin/checks_test.cpp",
        "    cuMemFree(scratch);\n    expectStatus(cuGraphLaunch(exec, s)",
        "    cuMemFree(scratch);\n    cuMemFree(grown);\n    expectStatus(cuGraphLaunch(exec, s)",
        tests="StandinChecksTest"),
    # Engine level (#19's graphs in org.rnn4j.cuda.CudaEngine), caught by GraphsTest on the stand-in.
    Bug("engine-graph-stale-pointer", "a capture on new pointers takes over a graph of the shape without cuGraphExecUpdate (the replay keeps the old pointers)",
        "src/main/java/org/rnn4j/cuda/CudaEngine.java",
        "int status = Lib.cuGraphExecUpdate_v2(exec, graph, new long[3]);", "int status = CUresult.CUDA_SUCCESS;",
        tests="GraphsTest"),
    Bug("engine-capture-alloc", "the engine allocates a buffer (a new device segment) while a region is captured",
        "src/main/java/org/rnn4j/cuda/CudaEngine.java",
        "        long[] graph = new long[1];\n        try {\n            work.run();",
        "        long[] graph = new long[1];\n        try {\n            allocateUninitialized(DType.F32, 1L << 24).close();\n            work.run();",
        tests="GraphsTest"),
    Bug("engine-graph-freed-buffer", "the graph key leaves out a region's first buffer: a graph is replayed on a buffer freed since its capture",
        "src/main/java/org/rnn4j/cuda/CudaEngine.java",
        "        for (int i = 0; i < buffers.length; i++) {\n            if (buffers[i] != null) {\n                CudaBuffer b = own(buffers[i], \"buffers[\" + i + \"]\");",
        "        for (int i = 1; i < buffers.length; i++) {\n            if (buffers[i] != null) {\n                CudaBuffer b = own(buffers[i], \"buffers[\" + i + \"]\");",
        tests="GraphsTest"),
    Bug("engine-graph-stale-step", "the optimizer writes its step's learning rate and bias corrections inside its replayed region: the graph replays the values of the step it was captured at",
        "src/main/java/org/rnn4j/train/Optimizer.java",
        "        g.engine.replayable(shape, buffers.toArray(new Buffer[0]), () -> {\n",
        "        float[] values = hyperparameters((float) lr, steps + 1);\n"
        "        g.engine.replayable(shape, buffers.toArray(new Buffer[0]), () -> {\n"
        "            for (int k = 0; k < values.length; k++) {\n                g.engine.fill(h, k, 1, values[k]);\n            }\n",
        tests="GraphsTest,FitGraphsTest"),
    # #19's step graphs (Engine.replayableStep, SequenceModel's whole training step).
    Bug("model-step-stale-inputs", "a batch shape's step inputs are not uploaded again for the next batch: the step graph replays the last batch of that shape",
        "src/main/java/org/rnn4j/model/SequenceModel.java",
        "                slot.in.set(b);\n", "",
        tests="FitGraphsTest"),
    Bug("model-step-seed-baked", "the head's dropout takes its seed as a kernel argument inside a step graph: every replay draws the capture's mask",
        "src/main/java/org/rnn4j/model/SequenceModel.java",
        "            Buffer base = in.headSeed == null ? null : in.headSeed.tensor().buffer();\n",
        "            Buffer base = null;\n",
        tests="FitGraphsTest"),
    Bug("engine-step-memory-released", "a capture gives the blocks its step frees back to the pool: memory the step graph writes is handed out while the graph lives",
        "src/main/java/org/rnn4j/cuda/CudaEngine.java",
        "        if (m != null && m.isCapture() && m.keeps(block)) {\n            return;   // the step graph being captured keeps it\n        }\n",
        "",
        tests="StepGraphsTest,FitGraphsTest"),
    # Engine level (#19's side stream, org.rnn4j.cuda.SidePath), caught by StreamsTest with the stand-in's streams
    # in the worst legal order.
    Bug("engine-missing-join-wait", "the join of the side stream records its event but the engine's stream does not wait for it",
        "src/main/java/org/rnn4j/cuda/SidePath.java",
        '        Driver.check(Lib.cuStreamWaitEvent(into, joinEvent.handle(), 0), "cuStreamWaitEvent", "the join of " + name);\n',
        "", tests="StreamsTest", execution="cuda-streams-adversarial"),
    Bug("engine-missing-fork-wait", "the side stream does not wait for the fork's event (it may run before what it reads)",
        "src/main/java/org/rnn4j/cuda/SidePath.java",
        '        Driver.check(Lib.cuStreamWaitEvent(stream, forkEvent.handle(), 0), "cuStreamWaitEvent", name + " after the fork");\n',
        "", tests="StreamsTest", execution="cuda-streams-adversarial"),
    Bug("missing-grid-barrier", "a cooperative kernel without its grid barrier between writing and reading block results (stand-in level)",
        "native/standin/checks_test.cpp",
        "    if (withGridSync) cooperative_groups::this_grid().sync();\n", "",
        tests="StandinChecksTest"),
    Bug("persistent-grid-barrier", "persistent LSTM forward without its grid barrier per step (a CTA reads h of step t before the others wrote it)",
        "kernels/persistent.cu",
        "            grid.sync();   // every CTA's h of step t", "            (void)grid;   // every CTA's h of step t",
        tests=PERSISTENT),
    Bug("persistent-slice", "persistent forward (every cell): each CTA loads the W_hh rows of the unit after its own (slice off by one)",
        "kernels/persistent.cu",
        "whh[((long long)k * H + j0 + u) * H + c]", "whh[((long long)k * H + j0 + u + 1) * H + c]",
        tests=PERSISTENT),
    Bug("persistent-wt-slice", "persistent backward (every cell) keeps W_hh's row j (G·H contiguous) instead of W_hh^T's row, column j of W_hh",
        "kernels/persistent.cu",
        "whh[(long long)r * H + j0 + u]", "whh[(long long)(j0 + u) * rows + r]",
        tests=PERSISTENT),
    Bug("persistent-gru-slice", "persistent GRU forward (reset-after): the candidate's product reads the W_hh slice row of the next unit (off by one)",
        "kernels/persistent.cu",
        "gateProduct(hRow, wSlice, GATE_N, units, u, H)", "gateProduct(hRow, wSlice, GATE_N, units, u + 1, H)",
        tests=PERSISTENT),
    Bug("persistent-gru-carry", "persistent GRU backward (reset-after) carries dGx instead of dGh (whose n block is dpre_n * r) into dh_prev",
        "kernels/persistent.cu",
        "addRecurrentGrad(carry, dGh + ", "addRecurrentGrad(carry, dGx + ",
        tests=PERSISTENT),
    Bug("persistent-rb-barrier", "persistent GRU forward (reset-before) without its mid-step grid barrier (the candidate's product reads r * h_prev other CTAs have not written)",
        "kernels/persistent.cu",
        "        grid.sync();   // every unit's r ⊙ h_prev of step t", "        (void)grid;   // every unit's r ⊙ h_prev of step t",
        tests=PERSISTENT),
    Bug("persistent-rnn-barrier", "persistent RNN backward without its grid barrier (a CTA sums over dG of step t before the others wrote it)",
        "kernels/persistent.cu",
        "        grid.sync();   // step t's dG of every unit before any CTA sums over it",
        "        (void)grid;   // step t's dG of every unit before any CTA sums over it",
        tests=PERSISTENT),
    Bug("adam-beta", "Adam second moment weighted with (1 - beta1) instead of (1 - beta2)",
        "kernels/train.cu",
        "(1.0f - beta2) * gi * gi", "(1.0f - beta1) * gi * gi", tests="OptimizerTest"),
    Bug("bf16-master-weights", "a BF16 layer rounds its FP32 master weights to BF16 when it refreshes their BF16 copy "
        "(as if the optimizer updated the BF16 copy): updates below BF16's resolution are lost",
        "src/main/java/org/rnn4j/LayerGemm.java",
        "            engine.toBf16(1, Math.toIntExact(n), w.master.buffer(), 0, Math.toIntExact(n), w.bf16, 0);\n",
        "            engine.toBf16(1, Math.toIntExact(n), w.master.buffer(), 0, Math.toIntExact(n), w.bf16, 0);\n"
        "            engine.fromBf16(n, w.bf16, 0, w.master.buffer(), 0);\n",
        tests="PrecisionTest"),
]


def run(cmd, cwd, log, timeout=None, env=None):
    """Runs cmd, appending its output to log; returns (returncode, seconds)."""
    start = time.monotonic()
    with open(log, "a") as out:
        out.write("\n$ " + " ".join(cmd) + "\n")
        out.flush()
        try:
            rc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                                env=env).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    return rc, time.monotonic() - start


def git(work, *args):
    subprocess.run(["git", "-c", "user.name=plant", "-c", "user.email=plant@localhost", *args], cwd=work,
                   check=True, stdout=subprocess.DEVNULL)


def copy_repository(work):
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True).stdout
    for name in files.decode().split("\0"):
        if name and (ROOT / name).is_file():
            dst = work / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dst)
    git(work, "init", "-q")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "pristine copy for plant-bugs")


# A compiler wrapper that reuses an earlier output when the command line and the contents of every
# input (the files named on it and the quoted #includes they pull in) are the same: a kernel bug
# then recompiles its one kernel file, not the driver, cuBLAS and the other four.
CACHED_CXX = r"""#!/usr/bin/env python3
import hashlib, os, re, shutil, subprocess, sys
args = sys.argv[1:]
cache = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cxx-cache")
dirs = [a[2:] or args[i + 1] for i, a in enumerate(args) if a.startswith("-I") and (a[2:] or i + 1 < len(args))]
h = hashlib.sha256("\0".join(args).encode())
seen = set()
def feed(path):
    if path in seen:
        return
    seen.add(path)
    data = open(path, "rb").read()
    h.update(path.encode() + b"\0" + data)
    for inc in re.findall(rb'#include "([^"]+)"', data):
        for d in [os.path.dirname(path)] + dirs:
            candidate = os.path.join(d, inc.decode())
            if os.path.isfile(candidate):
                feed(os.path.abspath(candidate))
                break
for a in args:
    if os.path.isfile(a) and not a.endswith((".so", ".so.1", ".map")):
        feed(os.path.abspath(a))
out = args[args.index("-o") + 1] if "-o" in args else None
hit = os.path.join(cache, h.hexdigest())
if out is not None and os.path.isfile(hit):
    shutil.copy2(hit, out)
    sys.exit(0)
rc = subprocess.call(["g++"] + args)
if rc == 0 and out is not None:
    os.makedirs(cache, exist_ok=True)
    shutil.copy2(out, hit + ".tmp." + str(os.getpid()))
    os.replace(hit + ".tmp." + str(os.getpid()), hit)
sys.exit(rc)
"""


def build_standin(work, log):
    cxx = work.parent / (work.name + ".cxx")
    if not (cxx / "g++-cached").is_file():
        cxx.mkdir(exist_ok=True)
        (cxx / "g++-cached").write_text(CACHED_CXX)
        (cxx / "g++-cached").chmod(0o755)
    env = dict(os.environ, CXX=str(cxx / "g++-cached"))
    rc, _ = run(["bash", "native/standin/build.sh", "target/classes/org/rnn4j/kernels", "target/standin"], work, log,
                env=env)
    return rc == 0 and (work / "target/standin/libcuda.so.1").is_file()


def surefire(work, bug_tests, execution, log):
    reports = work / "target/surefire-reports"
    shutil.rmtree(reports, ignore_errors=True)
    cmd = ["mvn", "-o", "-q", "-B", "compiler:compile", "surefire:test@" + execution, "-Dtest=" + bug_tests,
           "-Drnn4j.failFast=true",
           "-Djunit.jupiter.extensions.autodetection.enabled=true", "-Dsurefire.failIfNoSpecifiedTests=false"]
    rc, seconds = run(cmd, work, log, timeout=1200)
    return rc, seconds, results(reports)


def results(reports):
    """(tests, failed, skipped, first failure 'Class.method: message first line') from the XML reports."""
    tests = failed = skipped = 0
    first = None
    for xml in sorted(reports.glob("TEST-*.xml")) if reports.is_dir() else []:
        for case in ET.parse(xml).getroot().iter("testcase"):
            tests += 1
            if case.find("skipped") is not None:
                skipped += 1
            for kind in ("failure", "error"):
                node = case.find(kind)
                if node is not None:
                    failed += 1
                    if first is None:
                        message = (node.get("message") or node.get("type") or "").strip().splitlines()
                        where = case.get("classname", "").rsplit(".", 1)[-1] + "." + case.get("name", "")
                        first = where + ": " + (message[0] if message else node.get("type", ""))
    return tests, failed, skipped, first


def first_error_line(log, since):
    """The first line of a build or fork failure, in the log after offset since, when no report names a test."""
    with open(log, errors="replace") as f:
        f.seek(since)
        lines = f.read().splitlines()
    for line in lines:
        if (re.search(r"CUDA_ERROR|CUBLAS_STATUS|error:|There was an error|VM terminated|crashed|stand-in\]", line)
                and "simulated CUDA device" not in line):
            return line.strip()
    for line in lines:
        if line.startswith("[ERROR]"):
            return line.strip()
    return "(no message)"


def revert(work):
    """The copy as built: sources from its git, the stand-in built from them."""
    git(work, "checkout", "-q", "--", ".")
    shutil.rmtree(work / "target/standin", ignore_errors=True)
    shutil.copytree(work / "target/standin.clean", work / "target/standin", symlinks=True)


def plant(work, bug):
    path = work / bug.path
    text = path.read_text()
    if bug.old not in text:
        raise SystemExit(f"plant-bugs: {bug.name}: the text to replace is not in {bug.path} (the source changed?)")
    line = text[: text.index(bug.old)].count("\n") + 1
    path.write_text(text.replace(bug.old, bug.new, 1))
    return f"{bug.path}:{line}"


def cell(text):
    return text.replace("|", "\\|").replace("\n", " ")[:200]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="directory of the copy: reused when already built, and left behind")
    parser.add_argument("bugs", nargs="*", help="bug names (default: all)")
    args = parser.parse_args()
    selected = [b for b in BUGS if not args.bugs or b.name in args.bugs]
    unknown = set(args.bugs) - {b.name for b in BUGS}
    if unknown:
        raise SystemExit("plant-bugs: unknown bugs " + ", ".join(sorted(unknown)) + "; known: "
                         + ", ".join(b.name for b in BUGS))

    started = time.monotonic()
    work = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="rnn4j-plant-"))
    log = work.parent / (work.name + ".log")
    print(f"plant-bugs: copy in {work}, log in {log}", file=sys.stderr)
    if work == ROOT or ROOT in work.parents:
        raise SystemExit(f"plant-bugs: {work} is inside the repository; bugs are planted only in a copy elsewhere")
    if not (work / "target/standin.clean/libcuda.so.1").is_file():
        if work.exists() and any(work.iterdir()) and not (work / MARKER).is_file():
            raise SystemExit(f"plant-bugs: {work} is not empty and not a copy made by this script")
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        (work / MARKER).touch()
        copy_repository(work)
        rc, seconds = run(["mvn", "-o", "-q", "-B", "test-compile"], work, log)
        if rc != 0 or not build_standin(work, log):
            raise SystemExit(f"plant-bugs: building the copy failed; see {log}")
        shutil.copytree(work / "target/standin", work / "target/standin.clean", symlinks=True)
        print(f"plant-bugs: built the copy in {seconds:.0f} s", file=sys.stderr)

    revert(work)
    # Without a bug, every test set passes and the CUDA cases run (a skip would make "passes" meaningless).
    for execution in sorted({b.execution for b in selected}):
        tests = ",".join(sorted({t for b in selected if b.execution == execution for t in b.tests.split(",")}))
        rc, seconds, (n, failed, skipped, first) = surefire(work, tests, execution, log)
        if rc != 0 or failed or skipped or n == 0:
            raise SystemExit(f"plant-bugs: the baseline ({execution}: {tests}) does not pass cleanly: "
                             f"{n} tests, {failed} failed, {skipped} skipped, rc {rc}: {first}; see {log}")
        print(f"plant-bugs: baseline {execution} {tests}: {n} tests pass, none skipped ({seconds:.0f} s)",
              file=sys.stderr)

    rows = []
    missed = []
    for bug in selected:
        revert(work)
        where = plant(work, bug)
        start = time.monotonic()
        since = os.path.getsize(log) if os.path.exists(log) else 0
        with open(log, "a") as out:
            out.write(f"\n======== {bug.name}: {bug.what} ({where})\n")
        if bug.native and not build_standin(work, log):
            verdict, first, n = "caught: the stand-in does not build", first_error_line(log, since), 0
        else:
            rc, _, (n, failed, skipped, first) = surefire(work, bug.tests, bug.execution, log)
            if failed and bug.gap:
                verdict = "caught, though marked as a gap: remove the mark"
                missed.append(bug.name)
            elif failed:
                verdict = "caught"
            elif rc == 124:
                verdict, first = "caught: timed out", "(no test finished in 20 min)"
            elif rc != 0:
                verdict, first = "caught", first_error_line(log, since)
            elif bug.gap:
                verdict, first = "NOT caught (known gap)", bug.gap
            else:
                verdict, first = "NOT caught", f"{n} tests passed, {skipped} skipped"
                missed.append(bug.name)
        seconds = time.monotonic() - start
        test_set = bug.tests.replace(",", ", ") + ("" if bug.execution == "default-test" else f" ({bug.execution})")
        rows.append(f"| {bug.name} | {cell(bug.what)} | `{where}` | {test_set} | {verdict} | {cell(first or '')} "
                    f"| {seconds:.0f} |")
        print(f"plant-bugs: {bug.name}: {verdict} in {seconds:.0f} s: {first}", file=sys.stderr)
    revert(work)

    print("| bug | what | where | tests run | result | first failure | s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    caught = sum(1 for row in rows if "| caught" in row)
    gaps = sum(1 for row in rows if "known gap" in row)
    print(f"\n{caught} of {len(selected)} caught, {gaps} known gaps; {time.monotonic() - started:.0f} s in all")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(work.parent / (work.name + ".cxx"), ignore_errors=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
