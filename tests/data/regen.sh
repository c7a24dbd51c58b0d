#!/bin/sh
# Regenerates the tiny checkpoints in tests/data/ (run from the repository root after
# `make`). tests/test_io_checkpoint.cpp checks that a fresh `ctk compress` still writes
# these exact bytes, so a change here must be deliberate.
set -e
B=${BUILD:-build}
cd "$(dirname "$0")/../.."
rm -rf tests/data/tiny tests/data/tiny-*
$B/examples/tiny_model tests/data/tiny
c() { out=$1; shift; $B/ctk compress tests/data/tiny tests/data/$out --quiet "$@"; }
c tiny-sparse24-bitmask --scheme sparse24
c tiny-sparse24-dense --scheme sparse24 --format dense
c tiny-w8a8-int8 --scheme sparse24-w8a8-int8
c tiny-w8a8-int8-static --scheme sparse24-w8a8-int8 --format dense --weights tensor --inputs static --input-scale 0.03
c tiny-w8a8-fp8 --scheme sparse24-w8a8-fp8
c tiny-w8a8-fp8-static --scheme sparse24-w8a8-fp8 --format dense --weights tensor --inputs static --input-scale 0.01
c tiny-mxfp4 --scheme mxfp4-a16
du -sh tests/data
