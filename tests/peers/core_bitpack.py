"""Peer for tests/core/test_bitpack.cpp: numpy draws random b-bit codes (b = 1..8,
lengths 0..67 and one large), expands each code LSB-first into bits and packs the
stream with np.packbits(bitorder='little'). Writes DIR/codes.u8 and DIR/packed.u8 and
prints one line per case: bits n codes_offset packed_offset packed_len."""
import sys
import numpy as np

d = sys.argv[1]
rng = np.random.default_rng(1234)
codes_all, packed_all = [], []
code_off = packed_off = 0
for bits in range(1, 9):
    for n in list(range(0, 68)) + [100003]:
        codes = rng.integers(0, 1 << bits, size=n, dtype=np.uint8)
        # Row i holds code i's bits, least significant first: the stream order.
        stream = ((codes[:, None] >> np.arange(bits, dtype=np.uint8)) & 1).astype(np.uint8).reshape(-1)
        packed = np.packbits(stream, bitorder="little")
        print(bits, n, code_off, packed_off, packed.size)
        codes_all.append(codes)
        packed_all.append(packed)
        code_off += n
        packed_off += packed.size
np.concatenate(codes_all).tofile(f"{d}/codes.u8")
np.concatenate(packed_all).tofile(f"{d}/packed.u8")
