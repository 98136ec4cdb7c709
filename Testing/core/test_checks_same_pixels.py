"""``same_pixels`` (IA and IV given the same data): a sample first, then every voxel — exact either way."""

import numpy as np
from ragaliv.checks.pair import SAME_PIXELS_SAMPLE_STRIDE, same_pixels


def test_large_images_are_compared_exactly():
    rng = np.random.default_rng(0)
    ia = rng.random((60, 64, 64), dtype=np.float32)  # 245 760 voxels: the sample path is taken
    assert ia.size > 100 * SAME_PIXELS_SAMPLE_STRIDE
    assert same_pixels(ia, ia * 2.5)  # the same data with another dose: one scale factor
    assert not same_pixels(ia, rng.random(ia.shape, dtype=np.float32))  # another acquisition
    one_voxel = ia * 2.5
    one_voxel[30, 31, 33] += 1.0  # not on the sample lattice (flat index not a multiple of the stride)
    assert np.ravel_multi_index((30, 31, 33), ia.shape) % SAME_PIXELS_SAMPLE_STRIDE != 0
    assert not same_pixels(ia, one_voxel)


def test_small_images_and_other_shapes():
    ia = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert same_pixels(ia, 3.0 * ia) and not same_pixels(ia, ia + 1.0)
    assert not same_pixels(ia, ia.reshape(3, 2, 4))
