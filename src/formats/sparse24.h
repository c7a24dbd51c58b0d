// 2:4 structured sparsity along K: in every group of 4 consecutive K elements of a
// weight row, at most 2 are nonzero.
//
// Group code (what the sparse tensor cores read, PTX "sparse matrix storage"):
//   4 bits per group: idx0 | idx1 << 2, with idx0 < idx1 the positions (0..3) of the two
//   kept values; the kept values are stored lowest position first. A group with fewer
//   than 2 nonzeros still keeps 2 slots: we pick the nonzero positions first, then fill
//   with the lowest zero positions (so codes are canonical and always ascending, as
//   mma.sp::ordered_metadata requires). Only the 6 codes 0x4, 0x8, 0x9, 0xC, 0xD, 0xE
//   are valid.
//
// compressed-tensors bitmask ("sparse-24-bitmask"): bit j of byte b of a row flags
//   column 8b + j (numpy packbits, bitorder little). So the low nibble of byte b is the
//   mask of group 2b and the high nibble the mask of group 2b+1, and a nibble with
//   exactly two bits set is the same information as a group code.
#pragma once
#include "formats/hd.h"

namespace ctk {

CTK_HD uint8_t code24_make(int idx0, int idx1) { return static_cast<uint8_t>(idx0 | (idx1 << 2)); }
CTK_HD int code24_idx0(uint8_t code) { return code & 3; }
CTK_HD int code24_idx1(uint8_t code) { return (code >> 2) & 3; }
CTK_HD bool code24_valid(uint8_t code) { return code < 16 && code24_idx0(code) < code24_idx1(code); }

// 4-bit mask of the two kept positions (bit p set for position p).
CTK_HD uint8_t code24_to_mask(uint8_t code) {
    return static_cast<uint8_t>((1u << code24_idx0(code)) | (1u << code24_idx1(code)));
}

CTK_HD int popcount4(uint8_t nib) { return (nib & 1) + ((nib >> 1) & 1) + ((nib >> 2) & 1) + ((nib >> 3) & 1); }

// Group code of a 4-bit mask with exactly two bits set; returns 0xFF otherwise.
CTK_HD uint8_t code24_from_mask(uint8_t mask) {
    if ((mask & 0xF) != mask || popcount4(mask) != 2) return 0xFF;
    int idx0 = -1, idx1 = -1;
    for (int p = 0; p < 4; ++p) {
        if (mask & (1u << p)) {
            if (idx0 < 0) idx0 = p;
            else idx1 = p;
        }
    }
    return code24_make(idx0, idx1);
}

// Canonical code for a group given its nonzero mask (at most 2 bits set): the nonzero
// positions, completed with the lowest zero positions. Returns 0xFF for > 2 nonzeros.
CTK_HD uint8_t code24_for_nonzeros(uint8_t nonzero_mask) {
    if (popcount4(nonzero_mask) > 2) return 0xFF;
    uint8_t mask = nonzero_mask;
    for (int p = 0; p < 4 && popcount4(mask) < 2; ++p) mask |= static_cast<uint8_t>(1u << p);
    return code24_from_mask(mask);
}

// code24_for_nonzeros as two constants, for kernels that derive many codes per thread
// with shifts instead of loops: nibble m of kCode24ForNonzerosLut is
// code24_for_nonzeros(m) (0x4 where that is 0xFF), and bit m of kCode24TooManyNonzeros
// is set where m has more than 2 bits (tests/test_formats.cpp checks all 16 masks).
constexpr uint64_t kCode24ForNonzerosLut = 0x444E4DCC49884444ull;
constexpr uint32_t kCode24TooManyNonzeros = 0xE880u;

// The 4-bit bitmask nibble of group g in a packed bitmask row.
CTK_HD uint8_t bitmask_group_nibble(const uint8_t* bitmask_row, int64_t group) {
    return static_cast<uint8_t>((bitmask_row[group >> 1] >> ((group & 1) * 4)) & 0xF);
}
CTK_HD bool bitmask_get(const uint8_t* bitmask_row, int64_t col) { return (bitmask_row[col >> 3] >> (col & 7)) & 1; }

}  // namespace ctk
