"""Partial-voxel weights and SUV statistics against analytic truth."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ragaliv.constants import SUVPEAK_SPHERE_RADIUS_MM
from ragaliv.geometry import Geometry, SegmentMask, Volume
from ragaliv.ratio.uptake import peak_kernel, uptake_statistics
from ragaliv.sampling import segment_weights


def sphere_segment(name, centre_lps, radius_mm, spacing_mm=(1.0, 1.0, 1.0), size=None):
    """A ball rasterised (voxel centres) on a fine grid centred near ``centre_lps``."""
    spacing = np.asarray(spacing_mm, float)
    half = np.ceil(radius_mm / spacing).astype(int) + 2
    shape_kji = tuple(int(2 * h + 1) for h in half[::-1])
    origin = np.asarray(centre_lps, float) - half * spacing
    geometry = Geometry.from_spacing(shape_kji, spacing, origin)
    x, y, z = geometry.voxel_centres_lps()
    distance = np.sqrt((x - centre_lps[0]) ** 2 + (y - centre_lps[1]) ** 2 + (z - centre_lps[2]) ** 2)
    return SegmentMask.from_full_mask(name, distance <= radius_mm, geometry)


def test_weights_of_a_box_offset_by_half_a_voxel_are_exact_fractions():
    # Target voxels of 4 mm centred at 0, 4, 8 ...; a 8 mm box from 2 to 10 mm along x (fine 0.5 mm grid).
    target = Geometry.from_spacing((10, 10, 10), (4.0, 4.0, 4.0), (0.0, 0.0, 0.0))
    fine = Geometry.from_spacing((16, 16, 16), (0.5, 0.5, 0.5), (2.25, 2.25, 2.25))
    segment = SegmentMask("box", np.ones((16, 16, 16), bool), fine)
    weights = segment_weights(segment, target)
    k, j, i = weights.kji()
    by_index = {(int(a), int(b), int(c)): w for a, b, c, w in zip(k, j, i, weights.weight)}
    # Box covers x in [2, 10): voxel 1 ([2, 6)) fully, voxel 0 ([-2,2)) not at all, voxel 2 ([6,10)) fully.
    assert by_index[(1, 1, 1)] == pytest.approx(1.0)
    assert by_index[(2, 2, 2)] == pytest.approx(1.0)
    assert (0, 0, 0) not in by_index
    assert weights.covered_volume_ml == pytest.approx(segment.volume_ml, rel=1e-9)

    # Same box shifted by 2 mm: now each axis covers halves of voxels 0 and 2 and all of voxel 1.
    shifted = SegmentMask("box", np.ones((16, 16, 16), bool), Geometry.from_spacing(
        (16, 16, 16), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)))
    weights = segment_weights(shifted, target)
    by_index = {tuple(int(v) for v in idx): w for idx, w in zip(zip(*weights.kji()), weights.weight)}
    assert by_index[(1, 1, 1)] == pytest.approx(1.0)
    assert by_index[(0, 1, 1)] == pytest.approx(0.5, abs=0.01)
    assert by_index[(0, 0, 1)] == pytest.approx(0.25, abs=0.01)
    assert by_index[(0, 0, 0)] == pytest.approx(0.125, abs=0.01)
    assert weights.covered_volume_ml == pytest.approx(shifted.volume_ml, rel=0.01)


@settings(max_examples=15, deadline=None)
@given(
    radius_mm=st.floats(4.0, 25.0),
    shift=st.tuples(*(st.floats(-2.0, 2.0),) * 3),
    angle=st.floats(0.0, math.pi / 2),
)
def test_weights_conserve_segment_volume_on_an_oblique_coarse_grid(radius_mm, shift, angle):
    segment = sphere_segment("ball", np.array(shift) + 0.3, radius_mm, spacing_mm=(1.5, 1.5, 3.0))
    c, s = math.cos(angle), math.sin(angle)
    direction = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    spacing = np.array([4.07, 4.07, 3.27])
    origin = -(direction * spacing) @ np.full(3, 19.5)  # grid centred on the patient origin
    target = Geometry.from_spacing((40, 40, 40), spacing, origin, direction)
    weights = segment_weights(segment, target)
    assert weights.fraction_outside == 0.0
    assert np.all((weights.weight > 0) & (weights.weight <= 1.0))
    if angle == 0.0:  # axis-aligned grids: exact
        assert weights.covered_volume_ml == pytest.approx(segment.volume_ml, rel=1e-6)
    else:  # oblique: sampled. Measured over 300 random placements with r 4-8 mm: median 1.1 %, 99th percentile
        # 4.8 %, worst 9.1 % (a 4 mm ball is ~40 voxels of 1.5 x 1.5 x 3 mm); larger balls stay within 3 %.
        assert weights.covered_volume_ml == pytest.approx(segment.volume_ml, rel=0.10 if radius_mm < 8 else 0.03)


def test_segment_partly_outside_field_of_view_is_measured():
    segment = sphere_segment("edge", (0.0, 0.0, 0.0), 10.0)
    target = Geometry.from_spacing((30, 30, 30), (2.0, 2.0, 2.0), (-1.0, -29.0, -29.0))  # x from -2 mm
    weights = segment_weights(segment, target)
    # Half of the ball (x < 0) lies outside, minus the slab x in [-2, 0) that is still inside the grid.
    assert 0.3 < weights.fraction_outside < 0.5


def test_peak_kernel_is_a_one_millilitre_sphere():
    for spacing in [(4.0, 4.0, 4.0), (2.0, 2.0, 2.0), (4.07, 4.07, 3.0), (2.73, 2.73, 2.0)]:
        geometry = Geometry.from_spacing((8, 8, 8), spacing)
        kernel = peak_kernel(geometry)
        assert kernel.sum() == pytest.approx(1.0)
        assert all(n % 2 == 1 for n in kernel.shape)
        # Partial-voxel weights: the un-normalised covered volume is 1 mL within sub-sampling error.
        raw_ml = np.count_nonzero(kernel) * 0 + (kernel / kernel.max()).sum() * geometry.voxel_volume_ml
        assert raw_ml == pytest.approx(1.0, rel=0.03)
        assert np.allclose(kernel, kernel[::-1, ::-1, ::-1])


def _pet(shape=(40, 40, 40), spacing=(4.0, 4.0, 4.0), origin=(-78.0, -78.0, -78.0)):
    geometry = Geometry.from_spacing(shape, spacing, origin)
    return geometry, geometry.voxel_centres_lps()


def test_uniform_lesion_gives_its_value_for_every_metric():
    geometry, (x, y, z) = _pet()
    hot = np.sqrt(x**2 + y**2 + z**2) <= 30.0  # hot region larger than the segment + a voxel diagonal
    suv = Volume(np.where(hot, 6.5, 1.2), geometry, "g/mL")
    segment = sphere_segment("Lesion 1", (0.0, 0.0, 0.0), 15.0)
    stats = uptake_statistics(suv, segment)
    assert stats.suvmean == pytest.approx(6.5)
    assert stats.suvmax == pytest.approx(6.5)
    assert stats.suvpeak == pytest.approx(6.5)
    assert stats.flags == []
    assert stats.volume_ml == pytest.approx(segment.volume_ml)


def test_linear_gradient_peak_is_the_value_at_the_best_sphere_centre():
    # The mean of a linear function over a centred sphere is its value at the centre.
    geometry, (x, _, _) = _pet()
    suv = Volume(2.0 + 0.05 * x, geometry, "g/mL")
    segment = sphere_segment("Lesion 1", (0.0, 0.0, 0.0), 12.0)
    stats = uptake_statistics(suv, segment)
    centre_x = stats.peak_centre_lps_mm[0]
    assert stats.suvpeak == pytest.approx(2.0 + 0.05 * centre_x, rel=1e-3)
    assert 8.0 <= centre_x <= 12.0 + 2.0  # the voxel furthest along +x that is half inside
    assert stats.suvmax == pytest.approx(2.0 + 0.05 * stats.max_voxel_lps_mm[0])
    # Weighted mean of a linear function over a ball centred at 0 is the value at 0.
    assert stats.suvmean == pytest.approx(2.0, abs=0.02)


def test_small_hot_sphere_peak_equals_the_analytic_partial_volume_mean():
    # A 10 mm hot ball (0.52 mL) inside a 1 mL peak sphere: best mean = concentric placement.
    geometry = Geometry.from_spacing((61, 61, 61), (1.0, 1.0, 1.0), (-30.0, -30.0, -30.0))
    x, y, z = geometry.voxel_centres_lps()
    r = np.sqrt(x**2 + y**2 + z**2)
    hot_radius = 5.0
    suv = Volume(np.where(r <= hot_radius, 10.0, 2.0), geometry)
    segment = sphere_segment("Lesion 2", (0.0, 0.0, 0.0), hot_radius)
    stats = uptake_statistics(suv, segment)
    fraction_hot = (hot_radius / SUVPEAK_SPHERE_RADIUS_MM) ** 3
    expected = 10.0 * fraction_hot + 2.0 * (1.0 - fraction_hot)
    assert stats.suvpeak == pytest.approx(expected, rel=0.02)


def test_bad_inputs_are_flagged_not_silent():
    geometry, _ = _pet()
    values = np.full(geometry.shape_kji, 3.0)
    values[20, 20, 20] = np.nan
    suv = Volume(values, geometry)
    stats = uptake_statistics(suv, sphere_segment("Lesion 1", (2.0, 2.0, 2.0), 8.0))
    assert stats.suvmean == pytest.approx(3.0)
    assert any("NaN" in flag for flag in stats.flags)

    outside = uptake_statistics(suv, sphere_segment("Lesion 9", (500.0, 0.0, 0.0), 8.0))
    assert outside.suvmax is None and outside.suvmean is None and outside.suvpeak is None
    assert "outside the PET field of view" in outside.flags

    empty = SegmentMask("Lesion 3", np.zeros((3, 3, 3), bool), Geometry.from_spacing((3, 3, 3), (1, 1, 1)))
    stats = uptake_statistics(suv, empty)
    assert stats.suvmean is None and stats.flags == ["empty segment"]
