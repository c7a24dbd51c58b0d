#!/usr/bin/env python3
"""Turns the output of `ctk bench ...` (and optionally `ctk demo`) into docs/benchmarks.md.

usage: docs/bench_to_md.py --date D --device "NVIDIA H100 ..." --demo demo.log bench.log [bench_v3.log ...] > docs/benchmarks.md
Keeps the markdown tables the benchmark prints (the JSON lines are the machine-readable copy).
"""
import argparse

HEAD = """# Benchmarks (latest H100 run)

Measured {date} on {device}, CUDA 13.0, driver 580, random data, by:

```
make                                   # here (nvcc 13.0, ARCH=sm_90a); the binaries are copied to the GPU machine
build/ctk_tests                        # all tests, gpu suite included
build/ctk demo
build/ctk bench all                    # quant, sparse24 (v1/v2 + compression), mxfp4
CUSPARSELT=<dir of libcusparseLt.so.0> build/ctk bench sparse24v3   # Hopper rung, cuSPARSELt 0.8 as second peer
```

Conventions: `ms` is the median of 30 CUDA-event timings after 5 warm-up calls; before every
timed call the L2 is flushed by reading 256 MiB (so weights come from HBM, and no dirty lines
are charged to the timed call). TFLOP/s counts 2*M*N*K (dense-equivalent for 2:4). GB/s counts
the fewest bytes the op must move (each input read once, each output written once; MXFP4
weights at 4.25 bits). `peer/ours` > 1 means ctkernels is faster. Peers are timed in the same
run: cuBLAS / cuBLASLt dense GEMM of the same dtype on the dense (or dequantized) weight,
cuSPARSELt 0.8 with a cached plan, and a device-to-device copy of the same bytes for the
memory-bound kernels. Every benchmark prints one JSON line per case before its table.
"""

def tables(path):
    out, keep = [], False
    for line in open(path):
        if line.startswith('### '):
            keep = True
        if keep and (line.startswith('|') or line.startswith('### ') or not line.strip()):
            out.append(line.rstrip('\n'))
        elif keep and line.startswith('{'):
            continue
    return '\n'.join(out).strip() + '\n'

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--date', required=True)
    ap.add_argument('--device', required=True)
    ap.add_argument('--demo')
    ap.add_argument('logs', nargs='+')
    a = ap.parse_args()
    print(HEAD.format(date=a.date, device=a.device))
    if a.demo:
        print('## The demo (`make run`), GPU path\n')
        print('\n'.join(l.rstrip() for l in open(a.demo) if l.startswith('|') or l.startswith('demo:')))
        print()
    for log in a.logs:
        print(tables(log).replace('### ', '## '))

if __name__ == '__main__':
    main()
