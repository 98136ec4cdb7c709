"""177Lu absorbed-dose methods: LED, sphere model, organ S with mass scaling, voxel S convolution, DVH, BED.

Every result carries the method and data source (dosimetry notes §2, §6, §8.3).
"""

from .auer_phantom import AuerPhantom, load_auer_phantom, read_interfile
from .bed import BedResult, kidney_bed_gy, kidney_bed_result
from .dvh import DoseVolumeHistogram, dose_volume_histogram
from .local_deposition import led_dose_gy, led_dose_result
from .organ_s import organ_dose_gy, organ_dose_result, organ_self_s_mgy_per_mbq_h
from .results import DoseResult, combine_relative_uncertainties, make_dose_result
from .sphere_model import sphere_dose_gy, sphere_dose_result, sphere_s_value_mgy_per_mbq_h
from .voxel_dose import dose_map_gy, dose_rate_map_gy_per_h, voxel_dose_result
from .voxel_kernel import (
    DoseKernel,
    load_lanconelli_kernel,
    read_lanconelli_table,
    resample_kernel,
    shipped_kernel_directory,
)

__all__ = [
    "AuerPhantom",
    "BedResult",
    "DoseKernel",
    "DoseResult",
    "DoseVolumeHistogram",
    "combine_relative_uncertainties",
    "dose_map_gy",
    "dose_rate_map_gy_per_h",
    "dose_volume_histogram",
    "kidney_bed_gy",
    "kidney_bed_result",
    "led_dose_gy",
    "led_dose_result",
    "load_auer_phantom",
    "load_lanconelli_kernel",
    "make_dose_result",
    "organ_dose_gy",
    "organ_dose_result",
    "organ_self_s_mgy_per_mbq_h",
    "read_interfile",
    "read_lanconelli_table",
    "resample_kernel",
    "shipped_kernel_directory",
    "sphere_dose_gy",
    "sphere_dose_result",
    "sphere_s_value_mgy_per_mbq_h",
    "voxel_dose_result",
]
