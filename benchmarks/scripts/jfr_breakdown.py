#!/usr/bin/env python3
"""Where a CPU step goes: JFR execution samples of a recording grouped by the innermost rnn4j routine
(GEMM, cells, copies/fills/allocation, reductions), the top frames, and GC/allocation event counts.
Usage: jfr_breakdown.py recording.jfr   (needs the JDK's jfr tool on PATH)"""
import sys, re, collections, subprocess

f = sys.argv[1]
out = subprocess.run(['jfr', 'print', '--events', 'jdk.ExecutionSample', '--stack-depth', '64', f], capture_output=True, text=True).stdout
cats = collections.Counter(); tops = collections.Counter(); n = 0
def cat(frames):
    for fr in frames:
        if 'GemmKernel' in fr or 'CpuGemm' in fr: return 'GEMM'
        if 'CpuCells' in fr or 'VectorCells' in fr: return 'cells'
        if 'sumRows' in fr: return 'reductions (bias sums)'
        if any(s in fr for s in ('swapLeadingAxes', 'CpuEngine.copy', 'reverseSequences', 'seedStateGrad', 'maskedUpdate', 'CpuEngine.fill', 'Tensor.zeros', 'Scope.zeros', 'CpuBuffer.<init>', 'CpuEngine.allocate', 'arraycopy')): return 'copies, fills, allocation'
    return 'other'
for ev in out.split('jdk.ExecutionSample')[1:]:
    frames = re.findall(r'^\s+([\w$.<>]+)\(', ev, re.M)
    if not frames: continue
    n += 1
    cats[cat(frames)] += 1
    tops[frames[0]] += 1
print(f'{n} samples')
for k, v in cats.most_common(): print(f'  {k:28s} {100.0*v/n:5.1f}%')
print('top frames:')
for k, v in tops.most_common(8): print(f'  {k:60s} {100.0*v/n:5.1f}%')
gc = subprocess.run(['jfr', 'summary', f], capture_output=True, text=True).stdout
for line in gc.splitlines():
    if 'jdk.GarbageCollection ' in line or 'jdk.ObjectAllocationSample ' in line: print(line.strip())
