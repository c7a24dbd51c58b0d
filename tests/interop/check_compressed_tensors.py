#!/usr/bin/env python3
# Checks the checkpoints `ctk compress` writes (tests/data/tiny-*) against the real
# compressed-tensors library: config.json parses with its config classes, the tensors
# decompress with its own compressors, and every stored byte equals what the library's
# own prune / quantize / pack functions produce from the dense input tests/data/tiny.
# A developer tool: not run by CI or `make test` (it needs torch + compressed-tensors).
#
# Two library versions are needed: the 2:4 sparse compressors were removed in
# compressed-tensors 0.15.0, and the MX (E8M0 scale) compressor was rewritten after it.
#   python3 -m venv /tmp/ctvenv   && /tmp/ctvenv/bin/pip install torch safetensors "transformers<5" compressed-tensors==0.14.0.1
#   python3 -m venv /tmp/ctvenv20 && /tmp/ctvenv20/bin/pip install torch safetensors compressed-tensors==0.20.0
#   /tmp/ctvenv/bin/python   tests/interop/check_compressed_tensors.py           # sparse + W8A8 (+ MXFP4 with 0.14)
#   /tmp/ctvenv20/bin/python tests/interop/check_compressed_tensors.py           # MXFP4 with the new compressor
#   ... check_compressed_tensors.py --data DIR   # other folders of the same names
# Checks a version lacks are reported as "skip". Exit code 1 on any mismatch; each
# mismatch prints tensor, index, ours, theirs.
import argparse
import json
import os
import sys

import torch
from safetensors.torch import load_file

import compressed_tensors as ct
from compressed_tensors.quantization import QuantizationConfig
from compressed_tensors.quantization.utils import calculate_qparams

CT_VERSION = ct.__version__
FAILS = []
PASSES = []


def fail(what, msg):
    FAILS.append(f"{what}: {msg}")
    print(f"  MISMATCH {what}: {msg}")


def ok(what):
    PASSES.append(what)
    print(f"  ok   {what}")


def bits(t):
    """A tensor's raw bytes as an integer tensor of the same shape (exact comparison)."""
    t = t.contiguous()
    size = t.element_size()
    return t.view({1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[size])


def same_bytes(what, ours, theirs):
    """ours / theirs: tensors; compares shape, dtype and every byte; prints first mismatches."""
    if tuple(ours.shape) != tuple(theirs.shape):
        # [1] vs [] (a per-tensor scale) is a shape difference, reported but values compared
        fail(what, f"shape ours {tuple(ours.shape)} theirs {tuple(theirs.shape)}")
        if ours.numel() != theirs.numel():
            return False
        theirs = theirs.reshape(ours.shape)
    if ours.dtype != theirs.dtype:
        fail(what, f"dtype ours {ours.dtype} theirs {theirs.dtype}")
        return False
    a, b = bits(ours), bits(theirs)
    diff = (a != b).nonzero()
    if diff.numel() == 0:
        ok(f"{what} {tuple(ours.shape)} {ours.dtype}: bytes equal")
        return True
    lines = []
    for idx in diff[:5].tolist():
        idx = tuple(idx)
        lines.append(f"[{','.join(map(str, idx))}] ours {ours[idx].item()!r} theirs {theirs[idx].item()!r}")
    fail(what, f"{diff.shape[0]} of {ours.numel()} differ; " + "; ".join(lines))
    return False


def linear_weights(dense):
    """The tensors ctk compress treats as Linear weights (io/compress.h)."""
    return {k[: -len(".weight")]: v for k, v in dense.items()
            if k.endswith(".weight") and v.dim() == 2 and "embed" not in k and not k.startswith("lm_head")}


def prune_24(w):
    """2:4 pruning: keep the 2 largest |w| per group of 4, ties to the lower index (ctk's
    documented rule, ref/sparse24.h), -0 -> +0. Returns (pruned, groups decided by a tie).
    Checked against compressed-tensors' own mask (get_24_bytemasks, a torch.topk whose
    tie order is unspecified): both must keep the same magnitudes in every group."""
    from compressed_tensors.compressors.sparse_compressors.sparse_24_bitmask import get_24_bytemasks
    g = w.reshape(-1, 4)
    order = g.abs().float().argsort(dim=1, descending=True, stable=True)
    mask = torch.zeros_like(g, dtype=torch.bool).scatter_(1, order[:, :2], True).reshape(w.shape)
    lib_mask = get_24_bytemasks(w)
    kept = lambda m: torch.where(m, w.abs(), torch.zeros_like(w)).float().reshape(-1, 4).sort(dim=1).values
    differ = (mask != lib_mask).reshape(-1, 4).any(dim=1)
    same_mags = bool((kept(mask) == kept(lib_mask)).all())
    pruned = torch.where(mask, w, torch.zeros_like(w)) + 0.0  # + 0.0 turns -0 into +0
    return pruned, int(differ.sum()), same_mags


def qparams(w, args):
    """The minmax observer's scale/zp: amin/amax over a row (channel), the tensor, or a group."""
    s = args.strategy.value if hasattr(args.strategy, "value") else args.strategy
    if s == "channel":
        mn, mx = w.amin(dim=1, keepdim=True), w.amax(dim=1, keepdim=True)
    elif s == "tensor":
        mn, mx = w.amin().reshape(1), w.amax().reshape(1)
    elif s == "group":
        g = w.reshape(w.shape[0], -1, args.group_size)
        mn, mx = g.amin(dim=-1), g.amax(dim=-1)
    else:
        raise ValueError(f"strategy {s}")
    return calculate_qparams(mn, mx, args)


def load_folder(folder):
    with open(os.path.join(folder, "config.json")) as f:
        qc = json.load(f)["quantization_config"]
    return qc, load_file(os.path.join(folder, "model.safetensors"))


# ----------------------------------------------------------------------------- 2:4 + W8A8
def check_sparse(folder, name, dense):
    try:
        from compressed_tensors.compressors import ModelCompressor
        from compressed_tensors.compressors.sparse_compressors.sparse_24_bitmask import (
            sparse24_bitmask_compress, sparse24_bitmask_decompress)
    except ImportError as e:
        print(f"  skip {name}: compressed-tensors {CT_VERSION} has no 2:4 sparse compressors ({e})")
        return
    qc, stored = load_folder(folder)
    mc = ModelCompressor.from_compression_config(qc)  # the library's config classes
    sp = mc.sparsity_config
    ok(f"{name} config: ModelCompressor sparsity {type(sp).__name__} format={sp.format} "
       f"structure={sp.sparsity_structure}; quantization "
       f"{None if mc.quantization_config is None else mc.quantization_config.format}")
    qcfg = mc.quantization_config
    wargs = qcfg.config_groups["group_0"].weights if qcfg is not None else None
    iargs = qcfg.config_groups["group_0"].input_activations if qcfg is not None else None
    bitmask = sp.format == "sparse-24-bitmask"

    # The library's own decompression of the sparse tensors, from the folder on disk.
    lib_dense = {}
    if bitmask:
        skip = None
        if mc.quantization_compressor is not None:
            qcomp = next(iter(mc.quantization_compressor.values()))
            skip = qcomp.compression_param_names
        for mod, data in mc.sparsity_compressor.decompress(folder, params_to_skip_load=skip):
            if isinstance(data, dict):
                data = data["weight"]
            lib_dense[mod[: -len(".weight")] if mod.endswith(".weight") else mod] = data

    for mod, w in linear_weights(dense).items():
        pruned, tie_groups, same_mags = prune_24(w)
        if not same_mags:
            fail(f"{name} {mod} pruning", "library get_24_bytemasks keeps different magnitudes than top-2")
        elif tie_groups:
            print(f"  note {name} {mod}: {tie_groups} groups where the library's topk breaks a magnitude "
                  f"tie differently (same magnitudes kept; ctk keeps the lower index)")
        else:
            ok(f"{name} {mod} 2:4 mask == library get_24_bytemasks")
        if wargs is None:
            expect = pruned
        else:
            scale, zp = qparams(pruned, wargs)
            comp = next(iter(mc.quantization_compressor.values()))
            expect = comp.compress_weight(weight=pruned, scale=scale, quantization_args=wargs,
                                          zero_point=zp)["weight"]
            same_bytes(f"{name} {mod}.weight_scale vs calculate_qparams(minmax)", stored[mod + ".weight_scale"], scale)
            # dequantize with the library's own decompressor equals scale * q of our bytes
            ours_q = stored[mod + ".weight"] if not bitmask else lib_dense[mod]
            deq = comp.decompress_weight({"weight": ours_q, "weight_scale": stored[mod + ".weight_scale"]},
                                         quantization_args=wargs)
            theirs_deq = comp.decompress_weight({"weight": expect, "weight_scale": scale}, quantization_args=wargs)
            same_bytes(f"{name} {mod} library dequantize(ours) vs dequantize(library quantize)", deq, theirs_deq)
            if iargs is not None and not iargs.dynamic:
                print(f"  info {name} {mod}.input_scale = {stored[mod + '.input_scale'].tolist()} "
                      f"(calibration value given to ctk, not derived)")
        if bitmask:
            # our tensors == the library's compress of the expected dense weight
            vals, bm = sparse24_bitmask_compress(expect)
            if expect.dtype == torch.int8 and bool((expect == -128).any()):
                # The library's own compress would differ here: get_24_bytemasks takes
                # int8 .abs(), where abs(-128) overflows to -128 and ranks last, so it drops
                # a kept -128 code for a zero (ModelCompressor.compress_model quantizes, then
                # sparsity-compresses the int8 tensor). ctk keeps the value; the library's
                # decompress of our files is checked below instead.
                print(f"  note {name} {mod}: {int((expect == -128).sum())} int8 codes -128; library "
                      f"sparse24_bitmask_compress would drop them (int8 abs overflow), not compared")
                vals = bm = None
            if vals is not None:
              same_bytes(f"{name} {mod}.compressed vs sparse24_bitmask_compress", stored[mod + ".compressed"], vals)
              same_bytes(f"{name} {mod}.bitmask vs sparse24_bitmask_compress", stored[mod + ".bitmask"], bm)
            same_bytes(f"{name} {mod}.shape", stored[mod + ".shape"],
                       torch.tensor(list(w.shape), dtype=torch.int64).reshape(2, 1))
            same_bytes(f"{name} {mod} library bitmask decompress(ours) vs expected dense", lib_dense[mod], expect)
        else:
            same_bytes(f"{name} {mod}.weight (dense format) vs library prune/quantize", stored[mod + ".weight"], expect)
        if wargs is None:
            # our C++ claim: the stored weight decompresses to the pruned dense input exactly
            got = lib_dense[mod] if bitmask else stored[mod + ".weight"]
            same_bytes(f"{name} {mod} decompressed vs pruned input", got, pruned)


# ----------------------------------------------------------------------------- MXFP4
def check_mxfp4(folder, name, dense):
    qc, stored = load_folder(folder)
    qcfg = QuantizationConfig.model_validate(qc)
    scheme = qcfg.config_groups["group_0"]
    wargs = scheme.weights
    ok(f"{name} config: QuantizationConfig format={qcfg.format} weights num_bits={wargs.num_bits} "
       f"type={wargs.type} group_size={wargs.group_size} scale_dtype={wargs.scale_dtype}")
    try:
        from compressed_tensors.compressors.mxfp4.base import MXFP4PackedCompressor  # >= 0.15 layout
        new_api = True
    except ImportError:
        from compressed_tensors.compressors.quantized_compressors.fp4_quantized import MXFP4PackedCompressor
        new_api = False
    for mod, w in linear_weights(dense).items():
        scale, zp = qparams(w, wargs)  # library's "even" MX scale rule, float power of two
        if new_api:
            theirs = MXFP4PackedCompressor.compress({"weight": w, "weight_scale": scale}, scheme)
            t_packed, t_scale = theirs["weight_packed"], theirs["weight_scale"]
            deq = MXFP4PackedCompressor.decompress(
                {"weight_packed": stored[mod + ".weight_packed"], "weight_scale": stored[mod + ".weight_scale"]},
                scheme)["weight"]
            theirs_deq = MXFP4PackedCompressor.decompress(dict(theirs), scheme)["weight"]
        else:
            comp = MXFP4PackedCompressor(config=qcfg)
            theirs = comp.compress_weight(weight=w, scale=scale, global_scale=None, quantization_args=wargs)
            t_packed, t_scale = theirs["weight_packed"], theirs["weight_scale"]
            deq = theirs_deq = None  # 0.14's MXFP4PackedCompressor.decompress_weight raises NotImplementedError
        same_bytes(f"{name} {mod}.weight_packed vs library MXFP4 compress", stored[mod + ".weight_packed"], t_packed)
        same_bytes(f"{name} {mod}.weight_scale vs library MXFP4 compress", stored[mod + ".weight_scale"], t_scale)
        if deq is None:
            print(f"  skip {name} {mod} decompress: not implemented in compressed-tensors {CT_VERSION}")
        else:
            same_bytes(f"{name} {mod} library decompress(ours) vs decompress(library)", deq.to(w.dtype), theirs_deq.to(w.dtype))


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "data"))
    ap.add_argument("--only", nargs="*", help="folder names to check (default: all)")
    a = ap.parse_args()
    print(f"torch {torch.__version__}, compressed-tensors {CT_VERSION}")
    dense = load_file(os.path.join(a.data, "tiny", "model.safetensors"))
    sparse = ["tiny-sparse24-bitmask", "tiny-sparse24-dense", "tiny-w8a8-int8", "tiny-w8a8-int8-static",
              "tiny-w8a8-fp8", "tiny-w8a8-fp8-static"]
    for name in sparse + ["tiny-mxfp4"]:
        if a.only and name not in a.only:
            continue
        folder = os.path.join(a.data, name)
        if not os.path.isdir(folder):
            continue
        print(f"== {name}")
        (check_mxfp4 if name == "tiny-mxfp4" else check_sparse)(folder, name, dense)
    print(f"\ncompressed-tensors {CT_VERSION}: {len(PASSES)} checks passed, {len(FAILS)} mismatches")
    for f in FAILS:
        print("  " + f)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
