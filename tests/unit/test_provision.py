import struct

import numpy as np

from knowledge.provision import dequantize_q4


def test_q4_block_layout_low_then_high_nibbles():
    scale = np.float16(0.5).tobytes()
    quants = bytes((lo | (hi << 4)) for lo, hi in zip(range(16), range(15, -1, -1)))
    weights = dequantize_q4(b"pad" + scale + quants, 3, 32)
    expected_low = [(q - 8) * 0.5 for q in range(16)]
    expected_high = [(q - 8) * 0.5 for q in range(15, -1, -1)]
    assert weights.tolist() == expected_low + expected_high


def test_two_blocks_each_with_own_scale():
    block = lambda d, q: struct.pack("<e", d) + bytes([q | (q << 4)] * 16)  # noqa: E731
    weights = dequantize_q4(block(1.0, 9) + block(-2.0, 0), 0, 64)
    assert set(weights[:32]) == {1.0} and set(weights[32:]) == {16.0}
