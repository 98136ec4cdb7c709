"""The synthetic abdomen: analytic shapes painted in order onto any axis-aligned grid.

Coordinates are patient LPS millimetres (x to the patient's left, y posterior, z superior). Every structure
is an ellipsoid, a z-cylinder or a box with a tissue name; later structures paint over earlier ones.
"Uptake halo" structures exist only for PET/SPECT: they extend each lesion's uptake 9 mm beyond its
MRI-visible edge so that every PET/SPECT voxel touching a lesion segment holds the lesion's activity.
Together with organ VOIs eroded by the same margin, this makes the measured values equal the truth by
construction (no partial-volume mixing) when the images are not blurred.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..geometry import Geometry

# Margin between any VOI edge and a change of activity. Covers the half-diagonal of the coarsest
# emission voxel (SPECT 4.8 mm: 4.16 mm) plus the rasterisation of the VOI grid (CT: 2.7 mm), and lets a
# 1 mL SUVpeak sphere sit in uniform activity inside the smallest lesion's halo.
UPTAKE_MARGIN_MM = 9.0


@dataclass(frozen=True)
class Shape:
    """Ellipsoid (kind "ellipsoid"), z-cylinder with elliptic section ("cylinder") or box ("box")."""

    kind: str
    centre_mm: tuple[float, float, float]
    semi_axes_mm: tuple[float, float, float]  # for a cylinder: x, y semi-axes and half length in z
    rotation_z_deg: float = 0.0

    def bounds(self) -> np.ndarray:
        """Axis-aligned bounding box [[xmin, ymin, zmin], [xmax, ymax, zmax]] (conservative)."""
        radius = np.array(self.semi_axes_mm, float)
        if self.rotation_z_deg:
            radius[:2] = max(radius[:2])
        centre = np.array(self.centre_mm, float)
        return np.array([centre - radius, centre + radius])

    def contains(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        dx, dy, dz = x - self.centre_mm[0], y - self.centre_mm[1], z - self.centre_mm[2]
        if self.rotation_z_deg:
            angle = np.deg2rad(self.rotation_z_deg)
            dx, dy = np.cos(angle) * dx + np.sin(angle) * dy, -np.sin(angle) * dx + np.cos(angle) * dy
        a, b, c = self.semi_axes_mm
        if self.kind == "ellipsoid":
            return (dx / a) ** 2 + (dy / b) ** 2 + (dz / c) ** 2 <= 1.0
        if self.kind == "cylinder":
            return ((dx / a) ** 2 + (dy / b) ** 2 <= 1.0) & (np.abs(dz) <= c)
        if self.kind == "box":
            return (np.abs(dx) <= a) & (np.abs(dy) <= b) & (np.abs(dz) <= c)
        raise ValueError(self.kind)

    def volume_ml(self) -> float:
        a, b, c = self.semi_axes_mm
        if self.kind == "ellipsoid":
            return 4.0 / 3.0 * np.pi * a * b * c / 1000.0
        if self.kind == "cylinder":
            return np.pi * a * b * 2 * c / 1000.0
        return 8 * a * b * c / 1000.0


def sphere(centre: Sequence[float], radius_mm: float) -> Shape:
    return Shape("ellipsoid", tuple(float(c) for c in centre), (radius_mm,) * 3)


@dataclass(frozen=True)
class Structure:
    name: str
    tissue: str
    shape: Shape
    uptake_only: bool = False  # painted on PET/SPECT label maps only (lesion uptake halos)


@dataclass
class LesionSpec:
    name: str  # "Lesion 1" ... or "Extrahepatic 1"
    centre_mm: tuple[float, float, float]
    diameter_mm: float
    tissue: str


@dataclass
class Anatomy:
    structures: list[Structure]
    lesions: list[LesionSpec]
    voi_shapes: dict[str, list[Shape]] = field(default_factory=dict)  # explicit sphere VOIs
    eroded_organ_vois: dict[str, str] = field(default_factory=dict)  # VOI name -> organ structure name

    def structure(self, name: str) -> Structure:
        for item in self.structures:
            if item.name == name:
                return item
        raise KeyError(name)


def build_anatomy(jitter_mm: Optional[np.ndarray] = None) -> Anatomy:
    """The canonical abdomen; ``jitter_mm`` (5 x 3) moves the liver lesions a little per patient."""
    jitter = np.zeros((5, 3)) if jitter_mm is None else np.asarray(jitter_mm, float)
    s: list[Structure] = []

    def add(name: str, tissue: str, shape: Shape, uptake_only: bool = False) -> None:
        s.append(Structure(name, tissue, shape, uptake_only))

    # Body wall: skin/subcutaneous fat, then the muscular wall and the visceral cavity.
    add("body", "fat", Shape("cylinder", (0.0, 0.0, 0.0), (165.0, 118.0, 400.0)))
    add("abdominal wall", "muscle", Shape("cylinder", (0.0, 2.0, 0.0), (148.0, 103.0, 400.0)))
    add("visceral fat", "fat", Shape("cylinder", (0.0, 0.0, 0.0), (138.0, 93.0, 400.0)))
    # Lung bases at the top of the field of view, behind the liver dome.
    add("right lung base", "lung", Shape("ellipsoid", (-80.0, 35.0, 205.0), (62.0, 62.0, 85.0)))
    add("left lung base", "lung", Shape("ellipsoid", (80.0, 35.0, 200.0), (60.0, 60.0, 80.0)))
    # Back muscles and psoas.
    add("right paraspinal", "muscle", Shape("cylinder", (-38.0, 98.0, 0.0), (26.0, 20.0, 400.0)))
    add("left paraspinal", "muscle", Shape("cylinder", (38.0, 98.0, 0.0), (26.0, 20.0, 400.0)))
    add("right psoas", "muscle", Shape("cylinder", (-42.0, 62.0, -80.0), (20.0, 18.0, 90.0), 20.0))
    add("left psoas", "muscle", Shape("cylinder", (42.0, 62.0, -80.0), (20.0, 18.0, 90.0), -20.0))
    # Bowel and stomach.
    add("mesentery", "bowel", Shape("ellipsoid", (10.0, -35.0, -95.0), (95.0, 45.0, 70.0)))
    for index, (x, y, z) in enumerate([(-40, -50, -70), (30, -55, -100), (70, -20, -60), (-10, -10, -120),
                                       (45, -60, -20), (-60, -40, -120), (90, -45, -100)]):
        add(f"bowel loop {index}", "colon", Shape("ellipsoid", (x, y, z), (16.0, 13.0, 16.0)))
    add("transverse colon", "colon", Shape("cylinder", (20.0, -70.0, 15.0), (60.0, 16.0, 15.0)))
    add("colon right", "colon", Shape("cylinder", (-105.0, -5.0, -60.0), (22.0, 22.0, 70.0)))
    add("colon left", "colon", Shape("cylinder", (108.0, 5.0, -60.0), (20.0, 20.0, 70.0)))
    add("stomach", "stomach", Shape("ellipsoid", (62.0, -30.0, 70.0), (38.0, 32.0, 45.0), -25.0))
    add("stomach gas", "gas", Shape("ellipsoid", (62.0, -45.0, 95.0), (22.0, 14.0, 12.0), -25.0))
    add("pancreas", "pancreas", Shape("ellipsoid", (15.0, 20.0, 25.0), (60.0, 12.0, 12.0), -15.0))
    # Liver: right and left lobes; gallbladder.
    add("liver right lobe", "liver", Shape("ellipsoid", (-72.0, 0.0, 60.0), (78.0, 82.0, 78.0)))
    add("liver left lobe", "liver", Shape("ellipsoid", (-5.0, -48.0, 85.0), (62.0, 36.0, 42.0), 10.0))
    add("gallbladder", "bile", Shape("ellipsoid", (-60.0, -62.0, 10.0), (14.0, 14.0, 30.0)))
    # Spleen and kidneys (cortex + medulla), renal pelvis.
    add("spleen", "spleen", Shape("ellipsoid", (100.0, 50.0, 100.0), (32.0, 45.0, 50.0), 35.0))
    add("kidney left", "kidney", Shape("ellipsoid", (78.0, 58.0, -25.0), (31.0, 27.0, 56.0), -20.0))
    add("kidney right", "kidney", Shape("ellipsoid", (-78.0, 58.0, -35.0), (31.0, 27.0, 58.0), 20.0))
    add("medulla left", "renal medulla", Shape("ellipsoid", (76.0, 58.0, -25.0), (16.0, 13.0, 38.0), -20.0))
    add("medulla right", "renal medulla", Shape("ellipsoid", (-76.0, 58.0, -35.0), (16.0, 13.0, 40.0), 20.0))
    # Vessels.
    add("aorta", "blood", Shape("cylinder", (22.0, 28.0, 0.0), (11.0, 11.0, 400.0)))
    add("inferior vena cava", "blood", Shape("cylinder", (-24.0, 30.0, -40.0), (12.0, 10.0, 140.0)))
    # Spine: vertebral bodies (cortical shell + marrow) separated by discs, spinal canal.
    vertebra_z = (-122.0, -88.0, -54.0, -20.0, 14.0, 48.0, 82.0, 116.0, 150.0)
    for level, z in enumerate(vertebra_z):
        add(f"vertebra {level}", "cortical bone", Shape("cylinder", (0.0, 62.0, z), (22.0, 19.0, 14.5)))
        add(f"marrow {level}", "bone marrow", Shape("cylinder", (0.0, 62.0, z), (18.5, 15.5, 12.0)))
        add(f"posterior arch {level}", "cortical bone", Shape("box", (0.0, 96.0, z), (18.0, 9.0, 12.0)))
    for z in np.array(vertebra_z[:-1]) + 17.0:
        add(f"disc {z:.0f}", "disc", Shape("cylinder", (0.0, 62.0, z), (21.0, 18.0, 2.5)))
    add("spinal canal", "csf", Shape("cylinder", (0.0, 88.0, 0.0), (8.0, 7.0, 400.0)))

    # Five liver metastases of 10-40 mm and one extra-hepatic (mesenteric) lesion.
    lesion_layout = [
        ("Lesion 1", (-105.0, -25.0, 30.0), 40.0),
        ("Lesion 2", (-30.0, -35.0, 100.0), 30.0),
        ("Lesion 3", (-45.0, 35.0, 25.0), 22.0),
        ("Lesion 4", (8.0, -58.0, 88.0), 16.0),
        ("Lesion 5", (-122.0, 10.0, 95.0), 10.0),
    ]
    lesions = []
    for index, (name, centre, diameter) in enumerate(lesion_layout):
        centre = tuple(float(c) for c in np.asarray(centre) + jitter[index])
        lesions.append(LesionSpec(name, centre, diameter, f"lesion {index + 1}"))
    lesions.append(LesionSpec("Extrahepatic 1", (40.0, -40.0, -30.0), 18.0, "extrahepatic 1"))
    for lesion in lesions:
        radius = lesion.diameter_mm / 2.0
        add(f"{lesion.name} uptake", lesion.tissue, sphere(lesion.centre_mm, radius + UPTAKE_MARGIN_MM), True)
        add(lesion.name, lesion.tissue, sphere(lesion.centre_mm, radius))

    vois = {
        # PERCIST reference: 3 cm sphere in the right lobe, away from lesions.
        "Healthy liver": [sphere((-75.0, 25.0, 75.0), 15.0)],
        # Red-marrow surrogate: spheres in the L2-L4 vertebral bodies (levels 1-3 here).
        "Bone marrow": [sphere((0.0, 62.0, z), 6.5) for z in vertebra_z[1:4]],
    }
    eroded = {"Kidney left": "kidney left", "Kidney right": "kidney right", "Spleen": "spleen"}
    return Anatomy(s, lesions, vois, eroded)


def tissue_names(anatomy: Anatomy) -> list[str]:
    names = ["air"]
    for structure in anatomy.structures:
        if structure.tissue not in names:
            names.append(structure.tissue)
    return names


def label_map(anatomy: Anatomy, geometry: Geometry, uptake: bool) -> np.ndarray:
    """Tissue index (into :func:`tissue_names`) at every voxel centre of an axis-aligned grid."""
    if not np.allclose(geometry.direction, np.eye(3)):
        raise ValueError("the phantom paints axis-aligned LPS grids only")
    names = tissue_names(anatomy)
    labels = np.zeros(geometry.shape_kji, dtype=np.uint8)
    origin, spacing = geometry.origin_lps_mm, geometry.spacing_mm
    axes = [origin[a] + spacing[a] * np.arange(geometry.size_ijk[a]) for a in range(3)]
    for structure in anatomy.structures:
        if structure.uptake_only and not uptake:
            continue
        low, high = structure.shape.bounds()
        ranges = []
        for a in range(3):
            inside = np.flatnonzero((axes[a] >= low[a]) & (axes[a] <= high[a]))
            ranges.append(inside)
        if any(r.size == 0 for r in ranges):
            continue
        i_range, j_range, k_range = ranges
        x = axes[0][i_range][np.newaxis, np.newaxis, :]
        y = axes[1][j_range][np.newaxis, :, np.newaxis]
        z = axes[2][k_range][:, np.newaxis, np.newaxis]
        hit = structure.shape.contains(x, y, z)
        block = labels[k_range[0] : k_range[-1] + 1, j_range[0] : j_range[-1] + 1, i_range[0] : i_range[-1] + 1]
        block[hit] = names.index(structure.tissue)
    return labels
