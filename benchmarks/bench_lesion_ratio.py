"""Lesion-ratio performance on a realistic case, side by side with a SimpleITK baseline.

Case: two whole-body PETs of 192 x 192 x 300 voxels at 4 mm (IA and IV, different grids), a segmentation
on a 1.5 mm MRI grid with the 11 segments of the synthetic patient.

Figures (in-process: median of several runs; whole processes: best of several runs, commands alternated):
  (a) the full ratio table: both PETs, every segment resampled into each PET grid with partial-voxel
      weights, SUVmax/mean/peak;
  (b) the live update after one segment is edited through MRML (slicer-core), table node rewritten;
  (c) baseline: SimpleITK LabelIntensityStatisticsImageFilter on the same masks, already resampled into
      each PET grid (labels where the weight is at least 1/2), run on both PETs; no SUVpeak.
  (d) whole processes on the synthetic patient (PETs 168x168x100 and 200x200x95): `ragaliv ratio` on DICOM
      vs a bare SimpleITK script reading the same DICOM (GDCM) and a label map and computing label statistics;
  (e) the same on 2 x 192x192x300 PETs (600 DICOM files) and the 11-segment segmentation of (a).

Run: .venv/bin/python benchmarks/bench_lesion_ratio.py [--repeat N] [--skip-process]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import SimpleITK as sitk
from ragaliv.geometry import Geometry, Volume
from ragaliv.io.segmentation import write_seg_nrrd
from ragaliv.phantom.anatomy import build_anatomy, label_map, tissue_names
from ragaliv.phantom.patient import build_segments
from ragaliv.phantom.tissues import PET_SUV_IV, ia_iv_ratio
from ragaliv.ratio.analysis import analyse
from ragaliv.ratio.placement import sphere_segment
from ragaliv.sampling import segment_weights

PET_SHAPE = (300, 192, 192)
IA_GRID = Geometry.from_spacing(PET_SHAPE, (4.0, 4.0, 4.0), (-382.0, -382.0, -750.0))
IV_GRID = Geometry.from_spacing(PET_SHAPE, (4.0, 4.0, 4.0), (-383.7, -381.1, -748.3))
SEGMENTATION_GRID = Geometry.from_spacing((200, 256, 256), (1.5, 1.5, 1.5), (-191.25, -191.25, -150.0))

BARE_SITK_SCRIPT = r'''
import sys
import SimpleITK as sitk
ia_dir, iv_dir, labels_path = sys.argv[1:4]
def read(folder):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(folder))
    return reader.Execute()
labels = sitk.ReadImage(labels_path)
for folder in (ia_dir, iv_dir):
    pet = read(folder)
    resampled = sitk.Resample(labels, pet, sitk.Transform(), sitk.sitkNearestNeighbor, 0, labels.GetPixelID())
    stats = sitk.LabelIntensityStatisticsImageFilter()
    stats.Execute(resampled, pet)
    print([(label, stats.GetMean(label), stats.GetMaximum(label)) for label in stats.GetLabels()][:2])
'''


def median_seconds(function, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build_case():
    anatomy = build_anatomy()
    names = tissue_names(anatomy)
    volumes = {}
    for role, grid in (("IA", IA_GRID), ("IV", IV_GRID)):
        labels = label_map(anatomy, grid, uptake=True)
        lut = np.array([PET_SUV_IV[n] * (ia_iv_ratio(n) if role == "IA" else 1.0) for n in names], np.float32)
        volumes[role] = Volume(lut[labels], grid, "g/mL")
    segments = build_segments(anatomy, SEGMENTATION_GRID)
    return anatomy, segments, volumes["IA"], volumes["IV"]


def baseline_label_images(segments, grid):
    labels = np.zeros(grid.shape_kji, np.uint16)
    for index, segment in enumerate(segments, start=1):
        weights = segment_weights(segment, grid)
        labels.ravel()[weights.flat_index[weights.weight >= 0.5]] = index
    return labels


def to_sitk(array, grid):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing([float(s) for s in grid.spacing_mm])
    image.SetOrigin([float(o) for o in grid.origin_lps_mm])
    return image


def bench_in_process(repeat):
    anatomy, segments, ia, iv = build_case()
    full = median_seconds(lambda: analyse(segments, ia, iv), repeat)

    label_images = {role: to_sitk(baseline_label_images(segments, volume.geometry), volume.geometry)
                    for role, volume in (("IA", ia), ("IV", iv))}
    pet_images = {role: to_sitk(volume.array, volume.geometry) for role, volume in (("IA", ia), ("IV", iv))}

    def baseline():
        for role in ("IA", "IV"):
            stats = sitk.LabelIntensityStatisticsImageFilter()
            stats.Execute(label_images[role], pet_images[role])

    base = median_seconds(baseline, repeat)
    live = bench_live_update(anatomy, segments, ia, iv, repeat)
    return full, live, base


def bench_live_update(anatomy, segments, ia, iv, repeat):
    try:
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "RagalivLesionRatio"))
        from ragaliv_mrml import nodes
        from ragaliv_mrml.headless import create_scene
        from RagalivLesionRatioLib import LesionRatioLogic
    except ImportError as error:
        print(f"(b) skipped: slicer-core not available ({error})")
        return None
    scene = create_scene()[0]
    logic = LesionRatioLogic(scene)
    parameters = logic.parameters()
    segmentation = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    for segment in segments:
        nodes.add_segment(segmentation, segment, segment.name)
    parameters.set_node("segmentation", segmentation)
    for role, volume, name in (("iaPetVolume", ia, "IA"), ("ivPetVolume", iv, "IV")):
        node = nodes.add_volume_node(scene, volume, name)
        node.SetAttribute("Ragaliv.Normalization", "bw")  # as the module's PET loader records it
        parameters.set_node(role, node)
    logic.update(parameters)
    lesion = anatomy.lesions[1]
    segment_id = segmentation.GetSegmentation().GetSegmentIdBySegmentName(lesion.name)
    times = []
    for step in range(1, repeat + 1):  # step 0 would re-write the same mask (no change, no recompute)
        edited = sphere_segment(lesion.name, np.array(lesion.centre_mm) + np.array([step % 3, 0.0, 0.0]),
                                lesion.diameter_mm - 2.0 * (step % 2), SEGMENTATION_GRID)
        nodes.set_segment_mask(segmentation, segment_id, edited)
        start = time.perf_counter()
        logic.update(parameters)
        times.append(time.perf_counter() - start)
        assert logic.last_update.recomputed_segments == [lesion.name], logic.last_update.recomputed_segments
    return statistics.median(times)


PATIENT_INFO = {"name": "BENCH", "id": "B1", "birth_date": "19600101", "sex": "M", "weight_kg": 78.0,
                "height_cm": 176.0}


def write_pet(activity, folder, scan, number):
    """One PET series as DICOM, with the synthetic patient's injection and scan times."""
    from ragaliv.phantom.dicom_writer import write_slices

    study = {"uid": f"1.2.3.{number}.1", "id": "1", "time": scan.scan_time, "description": "bench", "accession": "1"}
    series = {"uid": f"1.2.3.{number}.2", "number": 1, "time": scan.scan_time, "modality": "PT",
              "description": scan.role.lower(), "frame_of_reference": "1.2.3.9"}
    pet = {"radiopharmaceutical": "68Ga-DOTATATE", "injection_time": scan.injection_time,
           "injected_bq": scan.injected_mbq * 1e6, "half_life_s": scan.half_life_s}
    write_slices(activity, folder, "PT", PATIENT_INFO, study, series, pet)
    return folder


def write_case(folder, pets, segments, segmentation_grid):
    """Both PETs, the .seg.nrrd for ragaliv and the label map (NRRD) for the bare script."""
    from ragaliv.io.segmentation import paste_into

    paths = {role: write_pet(volume, os.path.join(folder, role), scan, number)
             for number, (role, (volume, scan)) in enumerate(pets.items(), start=1)}
    paths["segmentation"] = os.path.join(folder, "segmentation.seg.nrrd")
    write_seg_nrrd(paths["segmentation"], segments, segmentation_grid)
    labels = np.zeros(segmentation_grid.shape_kji, np.uint16)
    for index, segment in enumerate(segments, start=1):
        labels[paste_into(segment, segmentation_grid)] = index
    paths["labels"] = os.path.join(folder, "labels.nrrd")
    sitk.WriteImage(to_sitk(labels, segmentation_grid), paths["labels"])
    return paths


def best_alternating(commands, repeat):
    """Best wall time (s) of each whole-process command, the commands run in turn ``repeat`` times (so that
    a busy machine slows all of them alike; the best run is the one least disturbed)."""
    best = {name: float("inf") for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def bench_processes(repeat):
    """(d) on the synthetic patient's PETs (168x168x100, 200x200x95) and (e) on 2 x 192x192x300 PETs."""
    from ragaliv.phantom.patient import build_patient

    patient = build_patient(0)
    folder = tempfile.mkdtemp(prefix="ragaliv-bench-")
    script = os.path.join(folder, "bare_sitk.py")
    with open(script, "w", encoding="utf-8") as stream:
        stream.write(BARE_SITK_SCRIPT)
    _, segments, ia, iv = build_case()
    cases = {
        "synthetic patient": write_case(
            os.path.join(folder, "patient"),
            {"ia": (patient.ia.activity, patient.ia), "iv": (patient.iv.activity, patient.iv)},
            patient.segments, patient.mri.geometry),
        "2 x 192x192x300": write_case(os.path.join(folder, "large"),
                                      {"ia": (_as_activity(ia, patient.ia), patient.ia),
                                       "iv": (_as_activity(iv, patient.iv), patient.iv)},
                                      segments, SEGMENTATION_GRID),
    }
    results = {}
    for name, paths in cases.items():
        ragaliv = [sys.executable, "-m", "ragaliv.cli", "ratio", "--ia", paths["ia"], "--iv", paths["iv"],
                   "--segmentation", paths["segmentation"], "-o", os.path.join(folder, "out")]
        bare = [sys.executable, script, paths["ia"], paths["iv"], paths["labels"]]
        results[name] = best_alternating({"ragaliv": ragaliv, "bare": bare}, repeat)
    return results


def _as_activity(suv_volume, scan):
    """SUV image -> Bq/mL at the scan time (78 kg, the scan's decayed injected activity)."""
    decay_s = (scan.scan_time - scan.injection_time).total_seconds()
    decayed_bq = scan.injected_mbq * 1e6 * 2.0 ** (-decay_s / scan.half_life_s)
    return Volume(suv_volume.array * (decayed_bq / 78000.0), suv_volume.geometry, "Bq/mL")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-process", action="store_true")
    args = parser.parse_args()
    full, live, base = bench_in_process(args.repeat)
    print("Lesion-ratio benchmark: PETs 192x192x300 @ 4 mm (x2), segmentation 256x256x200 @ 1.5 mm, 11 segments")
    print(f"  (a) full table, both PETs, incl. resampling and SUVpeak ....... {1000 * full:8.1f} ms")
    if live is not None:
        print(f"  (b) live update after one MRML segment edit .................. {1000 * live:8.1f} ms")
    print(f"  (c) SimpleITK LabelIntensityStatistics, same masks, both PETs . {1000 * base:8.1f} ms")
    print(f"      (a)/(c) = {full / base:.2f}")
    if not args.skip_process:
        repeat = max(5, args.repeat)
        print(f"  whole processes, best of {repeat} runs, the two commands alternated:")
        results = bench_processes(repeat)
        for label, name in (("(d)", "synthetic patient"), ("(e)", "2 x 192x192x300")):
            best = results[name]
            print(f"  {label} {name}: ragaliv ratio {best['ragaliv']:.2f} s, bare SimpleITK read + label "
                  f"statistics {best['bare']:.2f} s, ratio = {best['ragaliv'] / best['bare']:.2f}")

if __name__ == "__main__":
    main()
