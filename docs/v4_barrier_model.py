#!/usr/bin/env python3
"""A random-interleaving model of MXFP4 v4's barrier schedule (cuda/mxfp4_gemm_sm90.cu).

Agents: the TMA warp (blocking waits on "empty"), 3 dequantizing warps ("split": every warp
takes every chunk; "rr": warp w takes chunks w, w+3, ...), 8 consumer warps. mbarriers are
modelled with their phase, pending arrivals and transaction count; a parity wait passes when
the phase of that parity has completed, i.e. (phase & 1) != parity, which is all the hardware
can tell. TMA copies complete late and sometimes out of order. The asserts check that a warp
only reads a stage holding the chunk it waited for, and that no stage is overwritten early.

What it shows: split is safe for any stage count; round robin is safe only when the stage
count is a multiple of 3 (chunk q and chunk q - stages then belong to the same warp, which
has already seen the older phase complete). With 4 stages a dequantizing warp can pass its
parity wait on the *older* phase and read a stage whose bytes have not landed. Hence
V4Smem::kStages is a multiple of 3 wherever round robin may run (docs/mxfp4.md, v4).

usage: python3 docs/v4_barrier_model.py       (about a minute)
"""
import random
class Bar:
    def __init__(s, count): s.count=count; s.pending=count; s.phase=0; s.tx=0
    def arrive(s):
        s.pending-=1; s._chk()
    def expect(s, n): s.tx+=n; s.pending-=1; s._chk()
    def complete_tx(s, n): s.tx-=n; s._chk()
    def _chk(s):
        if s.pending==0 and s.tx==0: s.phase+=1; s.pending=s.count
    def test(s, parity): return (s.phase & 1) != parity  # phase 'parity' completed
def run(S, mode, chunks, seed):
    rnd=random.Random(seed)
    full=[Bar(1) for _ in range(S)]; deq=[Bar(3 if mode=='split' else 1) for _ in range(S)]; empty=[Bar(8) for _ in range(S)]
    slot_data=[None]*S   # chunk whose bytes are in the slot (None while loading)
    slot_a=[None]*S      # chunk dequantized into A
    inflight=[]          # (slot, chunk) TMA pending
    # agents as generators
    def tma():
        for n in range(chunks):
            sl=n%S
            while not empty[sl].test(((n//S)&1)^1): yield
            assert slot_a[sl] is None or slot_a[sl] <= n-S, ('overwrite before consumed', n)
            full[sl].expect(1); slot_data[sl]=None; inflight.append((sl,n)); yield
    def dq(w):
        q = 0 if mode=='split' else w
        while q < chunks:
            sl=q%S
            while not full[sl].test((q//S)&1): yield
            assert slot_data[sl]==q, ('dequant read wrong data', w, q, slot_data[sl])
            yield
            assert slot_data[sl]==q, ('data changed during dequant', q)
            slot_a[sl]=q; deq[sl].arrive(); yield
            q += 1 if mode=='split' else 3
    def cons(wid):
        for q in range(chunks):
            sl=q%S; par=(q//S)&1
            while not full[sl].test(par): yield
            while not deq[sl].test(par): yield
            assert slot_a[sl]==q and slot_data[sl]==q, ('consumer saw', q, slot_a[sl], slot_data[sl])
            yield
            assert slot_a[sl]==q and slot_data[sl]==q
            empty[sl].arrive(); yield
    agents=[tma()]+[dq(w) for w in range(3)]+[cons(i) for i in range(8)]
    alive=list(agents); steps=0
    while alive or inflight:
        steps+=1
        if steps>2_000_000: raise RuntimeError('deadlock?')
        if inflight and rnd.random()<0.15:
            i=rnd.randrange(len(inflight)) if rnd.random()<0.3 else 0   # out-of-order completion sometimes
            sl,n=inflight.pop(i); slot_data[sl]=n; full[sl].complete_tx(1); continue
        if not alive: continue
        a=rnd.choice(alive)
        try: next(a)
        except StopIteration: alive.remove(a)
    return steps
bad=0
for mode,S in [('split',4),('split',6),('split',7),('rr',6),('rr',3),('rr',7),('rr',4)]:
    fails=0
    for seed in range(300):
        try: run(S,mode,40,seed)
        except AssertionError as e: fails+=1; last=e
    print(mode,S,'fails',fails, (last if fails else ''))
