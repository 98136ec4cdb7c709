"""ragaliv.checks.lesions on constructed cases whose answer is known: which lesion VOIs are "not avid" and which
overlaps count (the CLI and panel cases are in Testing/cli/test_bad_input_segments.py)."""

from types import SimpleNamespace

import numpy as np
import pytest
from ragaliv.checks.lesions import avidity_findings, overlap_findings, shared_voxels
from ragaliv.geometry import Geometry, SegmentMask

LIVER = SimpleNamespace(segment="Healthy liver", ia=SimpleNamespace(suvmean=10.0, suvmax=14.0),
                        iv=SimpleNamespace(suvmean=8.0, suvmax=11.0))


def lesion(name, ia_mean, ia_max, iv_mean, iv_max):
    """A lesion row with its SUVs given as multiples of the healthy-liver SUVmean of each PET."""
    return SimpleNamespace(segment=name, ia=SimpleNamespace(suvmean=ia_mean * 10.0, suvmax=ia_max * 10.0),
                           iv=SimpleNamespace(suvmean=iv_mean * 8.0, suvmax=iv_max * 8.0))


@pytest.mark.parametrize(("row", "flagged"), [
    (lesion("on liver (misregistered)", 1.0, 1.3, 1.0, 1.3), True),
    (lesion("on background", 0.1, 0.2, 0.1, 0.2), True),
    (lesion("necrotic, rim avid", 1.08, 1.78, 1.18, 1.97), False),  # review of the adversarial fixes
    (lesion("avid on IA only", 3.0, 4.0, 1.0, 1.2), False),
    (lesion("small, weakly avid", 1.25, 1.6, 1.22, 1.55), False),
    (lesion("typical metastasis", 4.0, 6.0, 3.5, 5.0), False),
], ids=lambda value: value.segment if isinstance(value, SimpleNamespace) else str(value))
def test_lesions_not_above_liver_on_both_pets_are_flagged(row, flagged):
    findings = avidity_findings([row], LIVER)
    assert bool(findings) is flagged
    if flagged:
        assert findings[0].check == "lesion-not-avid" and findings[0].subject == row.segment


def test_no_healthy_liver_no_avidity_finding():
    assert avidity_findings([lesion("Lesion 1", 0.1, 0.1, 0.1, 0.1)], None) == []


def _ball(name, centre_ijk, radius, geometry):
    k, j, i = np.indices(geometry.shape_kji)
    mask = (i - centre_ijk[0]) ** 2 + (j - centre_ijk[1]) ** 2 + (k - centre_ijk[2]) ** 2 <= radius ** 2
    return SegmentMask.from_full_mask(name, mask, geometry)


def test_overlap_is_counted_exactly_and_a_touch_is_not_a_finding():
    geometry = Geometry.from_spacing((40, 40, 40), (2.0, 2.0, 2.0))
    first = _ball("Lesion 1", (12, 20, 20), 6, geometry)
    twin = _ball("Lesion 2", (12, 20, 20), 6, geometry)
    assert shared_voxels(first, twin) == first.voxel_count
    (finding,) = overlap_findings([twin, first])
    assert finding.subject == "Lesion 1 + Lesion 2" and "(100 % of the smaller)" in finding.message
    # Two balls whose boundaries share a few voxels (under 10 % of the smaller): touching, not drawn twice.
    touching = _ball("Lesion 3", (23, 20, 20), 6, geometry)
    shared = shared_voxels(first, touching)
    assert 0 < shared < 0.1 * first.voxel_count
    assert overlap_findings([first, touching]) == []
