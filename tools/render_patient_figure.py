"""Figure of the synthetic patient for the README: MRI with the IA PET fused and the segment contours.

Run: .venv/bin/python tools/render_patient_figure.py [OUT.png]
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from ragaliv.io.segmentation import paste_into
from ragaliv.phantom import build_patient
from scipy import ndimage


def resample_nearest(volume, geometry, target):
    """Values of ``volume`` (on ``geometry``) at the voxel centres of ``target`` (axis-aligned grids)."""
    x, y, z = target.voxel_centres_lps()
    index = np.rint(geometry.lps_to_index(np.stack([x, y, z], -1))).astype(int)
    size = np.array(geometry.size_ijk)
    index = np.clip(index, 0, size - 1)
    return volume[index[..., 2], index[..., 1], index[..., 0]]


def main(path: str = "docs/synthetic_patient.png") -> None:
    patient = build_patient(0, blur_fwhm_mm=7.0, noise=True)
    mri = patient.mri
    pet = patient.ia.activity.array * patient.ia.suv_per_bq_per_ml
    pet_on_mri = resample_nearest(pet, patient.ia.activity.geometry, mri.geometry)
    labels = np.zeros(mri.geometry.shape_kji, int)
    for number, segment in enumerate(patient.segments, start=1):
        labels[paste_into(segment, mri.geometry)] = number
    figure, axes = plt.subplots(1, 3, figsize=(15, 5.4), dpi=90)
    for axis, z_mm, title in ((axes[0], 30.0, "axial, liver and lesions"), (axes[1], -25.0, "axial, kidneys")):
        k = round((z_mm - mri.geometry.origin_lps_mm[2]) / mri.geometry.spacing_mm[2])
        axis.imshow(mri.array[k], cmap="gray", vmin=0, vmax=1100)
        overlay = np.ma.masked_less(pet_on_mri[k], 3.0)
        axis.imshow(overlay, cmap="hot", vmin=0, vmax=120, alpha=0.55)
        for number in np.unique(labels[k])[1:]:
            edge = labels[k] == number
            edge = edge & ~ndimage.binary_erosion(edge)
            axis.contour(edge, levels=[0.5], colors="cyan", linewidths=0.8)
        axis.set_title(f"MRI T1 + IA PET (SUV), {title}")
        axis.axis("off")
    j = mri.geometry.shape_kji[1] // 2 - 10
    axes[2].imshow(mri.array[:, j, :][::-1], cmap="gray", vmin=0, vmax=1100, aspect=2.0)
    axes[2].imshow(np.ma.masked_less(pet_on_mri[:, j, :][::-1], 2.0), cmap="hot", vmin=0, vmax=120, alpha=0.55,
                   aspect=2.0)
    axes[2].set_title("coronal")
    axes[2].axis("off")
    figure.tight_layout()
    figure.savefig(path)


if __name__ == "__main__":
    main(*sys.argv[1:])
