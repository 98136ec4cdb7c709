"""Consistency of the lesion segments themselves: each lesion drawn once, and on an avid metastasis.

Two realistic mistakes give a confident wrong decision without these checks (adversarial review of issue 8):

* **Overlap.** One metastasis drawn twice ("Lesion 3" holding Lesion 4's voxels), or a lesion drawn over its
  neighbour: the mean IA/IV ratio counts that lesion twice (2.88 "NOT eligible" instead of 3.36 ELIGIBLE on the
  synthetic patient). A healthy-liver VOI that covers a lesion makes every tumour-to-liver ratio wrong.
* **A "lesion" that is not avid.** A labelmap that is not registered to the PETs (a labelmap carries no
  FrameOfReferenceUID to check) samples liver or background under the lesion names: 0.90 "NOT eligible" on the
  synthetic patient shifted 100 mm. The trial's lesions are somatostatin-receptor avid liver metastases
  (68Ga-DOTA-peptide uptake above healthy liver; Krenning score >= 3 is uptake above liver, PET notes §6), so a
  lesion VOI whose mean is not clearly above the healthy-liver mean on *both* PETs is not on a metastasis.

Both make the decision NOT DETERMINED (confirmable), naming the lesion; neither changes a number.
"""

import re
from collections.abc import Sequence
from typing import Optional

import numpy as np

from ..geometry import SegmentMask
from ..roles import role_of
from .findings import UNDETERMINED, Finding

# A lesion VOI whose SUVmean is below 1.2x and whose SUVmax is below 1.5x the healthy-liver SUVmean, on both PETs,
# is taken as "not on an avid metastasis" (local rule: the margins cover the noise of a small VOI and the
# partial-volume loss of its mean; the SUVmax keeps a correctly drawn necrotic lesion, mean 1.1x but rim 1.8x the
# liver, out of it; 68Ga-DOTATATE liver metastases average about 4x the liver, Ann Nucl Med 2013, PET notes §6).
LESION_OVER_LIVER_MIN = 1.2
LESION_SUVMAX_OVER_LIVER_MIN = 1.5
# Two segments sharing fewer than 10 % of the smaller one's voxels touch at a border (drawn with overlap allowed);
# from 10 % on, one lesion is counted twice in part (local rule).
OVERLAP_FRACTION_MIN = 0.10


def _natural(segment: SegmentMask) -> tuple:
    """Sort key: "Lesion 2" before "Lesion 10"."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", segment.name))


def shared_voxels(first: SegmentMask, second: SegmentMask) -> int:
    """Voxels of ``first`` whose centre falls in a voxel of ``second`` (any two grids; exact for one grid)."""
    if first.is_empty or second.is_empty:
        return 0
    if first.voxel_count > second.voxel_count:
        first, second = second, first
    k, j, i = np.nonzero(first.mask)
    lps = first.geometry.index_to_lps(np.stack([i, j, k], axis=-1).astype(float))
    index = np.rint(second.geometry.lps_to_index(lps)).astype(np.int64)
    size_ijk = np.array(second.geometry.size_ijk)
    inside = np.all((index >= 0) & (index < size_ijk), axis=1)
    index = index[inside]
    return int(np.count_nonzero(second.mask[index[:, 2], index[:, 1], index[:, 0]]))


def overlap_findings(segments: Sequence[SegmentMask]) -> list[Finding]:
    """Two lesion segments sharing voxels, or a healthy-liver VOI over a lesion: NOT DETERMINED findings for
    :func:`ragaliv.ratio.decision.summarise`."""
    lesions = sorted((segment for segment in segments if role_of(segment.name) == "lesion" and not segment.is_empty),
                     key=_natural)  # "Lesion 3 + Lesion 4" whatever the order of the segments
    livers = [segment for segment in segments if role_of(segment.name) == "healthy_liver" and not segment.is_empty]
    findings = []
    for index, first in enumerate(lesions):
        for second in lesions[index + 1:]:
            shared = shared_voxels(first, second)
            smaller = min(first.voxel_count, second.voxel_count)
            if shared >= OVERLAP_FRACTION_MIN * smaller:
                findings.append(Finding(
                    "segment-overlap", UNDETERMINED,
                    f"{first.name} and {second.name} share {shared} voxel(s) ({100.0 * shared / smaller:.0f} % of "
                    "the smaller): one metastasis drawn twice, or drawn over its neighbour, is counted twice in "
                    "the lesion ratio.",
                    "Redraw the lesion segments so that each metastasis is in one segment only.",
                    subject=f"{first.name} + {second.name}"))
    for liver in livers:
        for lesion in lesions:
            shared = shared_voxels(lesion, liver)
            if shared >= OVERLAP_FRACTION_MIN * lesion.voxel_count:
                findings.append(Finding(
                    "segment-overlap", UNDETERMINED,
                    f"'{liver.name}' covers {shared} voxel(s) of {lesion.name} "
                    f"({100.0 * shared / lesion.voxel_count:.0f} % of it): the healthy-liver reference holds tumour, "
                    "so the tumour-to-liver ratios are too low and whether each lesion is above liver (avid) cannot "
                    "be judged.",
                    f"Redraw '{liver.name}' in liver away from the lesions.",
                    subject=f"{liver.name} + {lesion.name}"))
    return findings


def avidity_findings(lesions: Sequence, liver: Optional[object]) -> list[Finding]:
    """Lesion rows (:class:`~ragaliv.ratio.decision.RatioRow`) whose SUVmean is below :data:`LESION_OVER_LIVER_MIN`
    and SUVmax below :data:`LESION_SUVMAX_OVER_LIVER_MIN` x the healthy-liver SUVmean, on both PETs; none without
    a healthy-liver row."""
    if liver is None or not (liver.ia.suvmean and liver.iv.suvmean):
        return []
    findings = []
    for row in lesions:
        over = [(row.ia.suvmean, liver.ia.suvmean), (row.iv.suvmean, liver.iv.suvmean)]
        peaks = [(row.ia.suvmax, liver.ia.suvmean), (row.iv.suvmax, liver.iv.suvmean)]
        if any(value is None for value, _ in over + peaks):
            continue
        if all(value < LESION_OVER_LIVER_MIN * reference for value, reference in over) and \
                all(value < LESION_SUVMAX_OVER_LIVER_MIN * reference for value, reference in peaks):
            (ia, ia_liver), (iv, iv_liver) = over
            findings.append(Finding(
                "lesion-not-avid", UNDETERMINED,
                f"{row.segment} is not above healthy liver on either PET (SUVmean IA {ia:.3g} vs liver {ia_liver:.3g}, "
                f"IV {iv:.3g} vs liver {iv_liver:.3g}; SUVmax IA {row.ia.suvmax:.3g}, IV {row.iv.suvmax:.3g}): the "
                "segment is probably not on the metastasis (segmentation not registered to the PETs, or placed on "
                "another structure).",
                "Check that the segmentation lies on the lesions in both PETs (registration, the right "
                "segmentation file).",
                subject=row.segment))
    return findings
