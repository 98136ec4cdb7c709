"""Rigid CT-to-CT registration of the time points, applied to the VOIs instead of the SPECTs.

Choice (GUIDE §3: values are taken in each emission image's own grid): each time point's CT is registered
to the reference CT (SimpleITK, Euler3D, Mattes mutual information or mean squares, three-level pyramid,
regular-step gradient descent). The result is a 4x4 matrix ``M`` mapping reference LPS points to the
time point's LPS points (``x_tp = M x_ref``; SPECT and CT of one time point share a frame of reference).
For the TACs we do **not** resample the SPECT: the VOI geometry is moved instead (its IJK→LPS matrix
becomes ``M @ ijk_to_lps``) and :func:`ragaliv.sampling.segment_weights` computes its partial-voxel
weights in that SPECT's own grid, so no activity is interpolated and ``Σ w·V`` stays the VOI volume.
Only the voxel-wise TIA map needs all time points on one grid; there :func:`resample_to_grid` interpolates
the SPECT linearly (see :mod:`ragaliv.spect.voxel`).

Registration is deterministic: fixed random-sampling seed and a single thread for the metric.
"""

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..errors import RagalivInputError
from ..geometry import Geometry, SegmentMask, Volume

SAMPLING_SEED = 20260421
SHRINK_FACTORS = (4, 2, 1)
SAMPLING_FRACTIONS = (0.10, 0.02, 0.005)  # per level: ~5 k, 8 k, 16 k samples for a 160x160x128 CT
SMOOTHING_SIGMAS_MM = (4.0, 2.0, 0.0)
HU_RANGE = (-1000.0, 2000.0)
METHOD = (
    "rigid CT-to-CT registration (SimpleITK Euler3D, {metric}, pyramid shrink 4/2/1, regular-step gradient "
    "descent, identity start); the transform moves the VOIs into each time point (SPECT not resampled)"
)


@dataclass
class RigidRegistration:
    """Reference → time point rigid transform (LPS mm) and how it was found."""

    timepoint: int
    matrix_lps: np.ndarray
    method: str = "identity (reference time point or registration off)"
    metric: Optional[str] = None
    metric_value: Optional[float] = None
    iterations: Optional[int] = None
    stop_condition: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def translation_mm(self) -> np.ndarray:
        return np.asarray(self.matrix_lps[:3, 3], dtype=float)

    @property
    def rotation_deg(self) -> float:
        """Total rotation angle (degrees) of the rigid transform."""
        cosine = (float(np.trace(self.matrix_lps[:3, :3])) - 1.0) / 2.0
        return math.degrees(math.acos(min(1.0, max(-1.0, cosine))))

    @property
    def is_identity(self) -> bool:
        return bool(np.allclose(self.matrix_lps, np.eye(4), atol=1e-9))

    def to_dict(self) -> dict[str, Any]:
        return {
            "timepoint": self.timepoint,
            "matrix_lps": np.round(self.matrix_lps, 6).tolist(),
            "translation_mm": [round(float(v), 4) for v in self.translation_mm],
            "rotation_deg": round(self.rotation_deg, 4),
            "method": self.method,
            "metric": self.metric,
            "metric_value": self.metric_value,
            "iterations": self.iterations,
            "stop_condition": self.stop_condition,
            "warnings": list(self.warnings),
        }


def identity(timepoint: int) -> RigidRegistration:
    return RigidRegistration(timepoint, np.eye(4))


def _to_sitk(volume: Volume, clamp: bool):
    import SimpleITK as sitk

    from ..io.images import volume_to_sitk

    array = volume.array.astype(np.float32, copy=False)
    if clamp:
        array = np.clip(array, *HU_RANGE)
    return volume_to_sitk(Volume(array, volume.geometry, volume.unit)), sitk


def register_rigid(
    fixed_ct: Volume, moving_ct: Volume, timepoint: int, metric: str = "mattes", iterations: int = 100
) -> RigidRegistration:
    """Register ``moving_ct`` (a time point) to ``fixed_ct`` (the reference); return reference → moving."""
    fixed, sitk = _to_sitk(fixed_ct, clamp=True)
    moving, _ = _to_sitk(moving_ct, clamp=True)
    size = np.array(fixed.GetSize(), float)
    centre = fixed.TransformContinuousIndexToPhysicalPoint(list((size - 1.0) / 2.0))
    transform = sitk.Euler3DTransform()
    transform.SetCenter(centre)

    method = sitk.ImageRegistrationMethod()
    if metric == "mattes":
        method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=48)
    elif metric == "meansquares":
        method.SetMetricAsMeanSquares()
    else:
        raise RagalivInputError(f"registration metric {metric!r} is not known.", "Use 'mattes' or 'meansquares'.")
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentagePerLevel(list(SAMPLING_FRACTIONS), SAMPLING_SEED)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0, minStep=1e-3, numberOfIterations=int(iterations), relaxationFactor=0.5,
        gradientMagnitudeTolerance=1e-8,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(SHRINK_FACTORS))
    method.SetSmoothingSigmasPerLevel(list(SMOOTHING_SIGMAS_MM))
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    method.SetInitialTransform(transform, inPlace=True)
    method.SetNumberOfThreads(1)  # reproducible metric sums (no thread-order dependence)
    try:
        method.Execute(fixed, moving)
    except RuntimeError as error:
        raise RagalivInputError(
            f"registration of time point {timepoint} to the reference CT failed: {str(error).strip()[-300:]}",
            "Check that both CTs show the same patient region, or set 'register' to false.",
        ) from None

    rotation = np.array(transform.GetMatrix(), float).reshape(3, 3)
    translation = np.array(transform.GetTranslation(), float)
    centre = np.array(transform.GetCenter(), float)
    matrix = np.eye(4)
    matrix[:3, :3] = rotation
    matrix[:3, 3] = centre + translation - rotation @ centre
    result = RigidRegistration(
        timepoint,
        matrix,
        method=METHOD.format(metric="Mattes mutual information" if metric == "mattes" else "mean squares"),
        metric=metric,
        metric_value=float(method.GetMetricValue()),
        iterations=int(method.GetOptimizerIteration()),
        stop_condition=method.GetOptimizerStopConditionDescription(),
    )
    if np.linalg.norm(translation) > 50.0 or result.rotation_deg > 10.0:
        result.warnings.append(
            f"large motion found for time point {timepoint} ({np.linalg.norm(translation):.1f} mm, "
            f"{result.rotation_deg:.1f}°): check the registration visually."
        )
    return result


def transform_segment(segment: SegmentMask, matrix_lps: np.ndarray) -> SegmentMask:
    """The same VOI mask placed by ``matrix_lps`` (reference → time point); nothing is interpolated."""
    if np.allclose(matrix_lps, np.eye(4), atol=1e-12):
        return segment
    geometry = Geometry(segment.geometry.shape_kji, np.asarray(matrix_lps) @ segment.geometry.ijk_to_lps)
    return SegmentMask(segment.name, segment.mask, geometry, segment.segment_id, segment.color_rgb)


def resample_to_grid(volume: Volume, target: Geometry, matrix_lps: Optional[np.ndarray] = None) -> np.ndarray:
    """``volume`` sampled (linear interpolation, 0 outside) at ``M x`` for every voxel centre x of ``target``."""
    import SimpleITK as sitk

    from ..io.images import volume_to_sitk

    matrix = np.eye(4) if matrix_lps is None else np.asarray(matrix_lps, float)
    if matrix_lps is None or np.allclose(matrix, np.eye(4), atol=1e-12):
        if volume.geometry.is_same_grid(target, 1e-6):
            return np.asarray(volume.array, dtype=np.float32)
    image = volume_to_sitk(Volume(volume.array.astype(np.float32, copy=False), volume.geometry))
    reference = sitk.Image([int(n) for n in target.size_ijk], sitk.sitkFloat32)
    reference.SetSpacing([float(s) for s in target.spacing_mm])
    reference.SetOrigin([float(o) for o in target.origin_lps_mm])
    reference.SetDirection([float(d) for d in target.direction.ravel()])
    transform = sitk.AffineTransform(3)
    transform.SetMatrix([float(v) for v in matrix[:3, :3].ravel()])
    transform.SetTranslation([float(v) for v in matrix[:3, 3]])
    resampled = sitk.Resample(image, reference, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    return sitk.GetArrayFromImage(resampled)
