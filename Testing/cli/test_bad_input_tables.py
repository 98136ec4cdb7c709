"""Issue 8, class 5: input tables. A labels CSV with a UTF-8 byte-order mark, with or without a header line, gives
every segment; a repeated label value or name, a label 0, a missing name or a non-UTF-8 file is refused with
the line number and a fix (today a duplicate silently replaced a segment and BOM + no header lost the first
one). TAC CSVs and COHORT.csv cells are refused the same way."""

import csv

import pytest
from bad_input import assert_refused, read_summary, run

NAMES = ("Lesion 1", "Lesion 2", "Lesion 3", "Lesion 4", "Lesion 5", "Healthy liver", "Kidney left", "Kidney right",
         "Spleen", "Bone marrow", "Extrahepatic 1")


def labels_args(patient, labels, output):
    return ("ratio", "--ia", patient / "pet_ia", "--iv", patient / "pet_iv", "--segmentation",
            patient / "labels.nrrd", "--labels", labels, "-o", output)


def write(path, text, encoding="utf-8", bom=False):
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def body(rows=None):
    return "".join(f"{label},{name}\n" for label, name in (rows or enumerate(NAMES, start=1)))


@pytest.fixture(scope="module")
def reference_ratios(synthetic_patient_dir, tmp_path_factory):
    """ratios.csv rows of the labelmap with the phantom's own labels.csv."""
    output = tmp_path_factory.mktemp("labels") / "reference"
    from ragaliv.cli import main

    assert main([str(a) for a in labels_args(synthetic_patient_dir, synthetic_patient_dir / "labels.csv", output)]) == 0
    with open(output / "ratios.csv", newline="", encoding="utf-8") as stream:
        return {row["segment"]: row for row in csv.DictReader(stream)}


@pytest.mark.parametrize(("text", "bom", "delimiter"), [
    pytest.param(body(), True, ",", id="bom-no-header"),
    pytest.param("label,name\n" + body(), True, ",", id="bom-with-header"),
    pytest.param(body(), False, ",", id="no-header"),
    pytest.param("# labels of the synthetic patient\n\nlabel;name\n" + body(), False, ";", id="semicolons-comment"),
])
def test_labels_csv_variants_give_every_segment(synthetic_patient_dir, reference_ratios, tmp_path, capsys, text, bom,
                                                delimiter):
    labels = write(tmp_path / "labels.csv", text.replace(",", delimiter), bom=bom)
    output = tmp_path / "out"
    code, _, err = run(capsys, *labels_args(synthetic_patient_dir, labels, output))
    assert code == 0, err
    with open(output / "ratios.csv", newline="", encoding="utf-8") as stream:
        rows = {row["segment"]: row for row in csv.DictReader(stream)}
    assert list(rows) == list(NAMES)
    for name, row in rows.items():
        assert row["ratio_suvmax"] == reference_ratios[name]["ratio_suvmax"], name
    assert read_summary(output)["lesion_count"] == 5


REFUSED = [
    pytest.param(body([(1, "Lesion 1"), (2, "Lesion 2"), (2, "Lesion 3")]), False,
                 ("line 3: label 2 is listed twice (lines 2 and 3", "one line"), id="duplicate-label"),
    pytest.param("label,name\n" + body([(1, "Lesion 1"), (2, "Lesion 1")]), True,
                 ("line 3: the name 'Lesion 1' is used twice (lines 2 and 3)", "its own name"), id="duplicate-name"),
    pytest.param(body([(1, "Lesion 1"), (2, "lesion 1")]), False, ("'lesion 1' is used twice",),
                 id="duplicate-name-other-case"),
    pytest.param(body([(0, "Background"), (1, "Lesion 1")]), False, ("line 1: label 0", "background"), id="label-0"),
    pytest.param(body([(1, "Lesion 1"), ("two", "Lesion 2")]), False, ("line 2: label 'two' is not an integer",),
                 id="label-not-integer"),
    pytest.param(body([(1, "Lesion 1"), (2, "")]), False, ("line 2: label 2 has an empty name", "Name every"),
                 id="empty-name"),
    pytest.param("1\n2\n", False, ("line 1: expected 'label,name'", "'1,Lesion 1'"), id="one-column"),
    pytest.param("label,name\n", False, ("lists no labels",), id="header-only"),
    pytest.param("", False, ("lists no labels",), id="empty-file"),
]


@pytest.mark.parametrize(("text", "bom", "texts"), REFUSED)
def test_bad_labels_csv_is_refused_with_the_line(synthetic_patient_dir, tmp_path, capsys, text, bom, texts):
    labels = write(tmp_path / "labels.csv", text, bom=bom)
    output = tmp_path / "out"
    assert_refused(run(capsys, *labels_args(synthetic_patient_dir, labels, output)), str(labels), *texts,
                   output=output)


def test_labels_csv_not_in_utf8_is_refused(synthetic_patient_dir, tmp_path, capsys):
    labels = write(tmp_path / "labels.csv", "1,Läsion 1\n", encoding="latin-1")
    output = tmp_path / "out"
    assert_refused(run(capsys, *labels_args(synthetic_patient_dir, labels, output)), "is not UTF-8",
                   "Save the labels as UTF-8", output=output)


@pytest.mark.parametrize(("text", "texts"), [
    pytest.param("\ufeffregion,time_h,activity_mbq\nKidney,4,30\nKidney,4,31\n", ("line 3", "time 4 h twice"),
                 id="tac-duplicate-time"),
    pytest.param("region,time_h,activity_mbq\nKidney,4,30 MBq\n", ("line 2", "'30 MBq' is not a number", "no units"),
                 id="tac-unit-in-cell"),
    pytest.param("region,time,activity\nKidney,4,30\n", ("missing column(s) time_h, activity_mbq",),
                 id="tac-wrong-header"),
    # Two spellings of one region were two regions: 'Kidney left' from 4 + 24 h got TIA 7319 MBq·h (mono at the
    # physical half-life), 2.5x the 2895 of the four points.
    pytest.param("region,time_h,activity_mbq\nKidney left,4,30.7\nKidney left,24,29.2\nkidney left,72,16.3\n"
                 "kidney  left,168,3.9\n",
                 ("region names that differ only in letter case or spacing", "'Kidney left' (lines 2, 3)",
                  "'kidney left' (line 4)", "'kidney  left' (line 5)", "Spell each region the same way"),
                 id="tac-region-case"),
    # An unquoted decimal comma was blamed on region names holding commas.
    pytest.param("region,time_h,activity_mbq\nKidney left,4,30,7\n",
                 ("line 2: 4 fields but the header has 3: 'Kidney left,4,30,7' looks like a number written with a "
                  "comma, decimal or thousands ('4,30' or '30,7')", "Decimal comma: write 1.5, not 1,5",
                  "write 1000, not 1,000",
                  "if a name holds a comma instead, quote region names"),
                 id="tac-decimal-comma"),
    pytest.param("region,time_h,activity_mbq\nKidney, left,4,30\n",
                 ("line 2: 4 fields but the header has 3.", "Quote region names that contain commas",
                  "1.5, not 1,5"),
                 id="tac-comma-in-name"),
])
def test_bad_tac_csv_is_refused_with_the_line(tmp_path, capsys, text, texts):
    tacs = write(tmp_path / "tacs.csv", text)
    output = tmp_path / "out"
    assert_refused(run(capsys, "tac", tacs, "--administered-mbq", "7400", "-o", output), *texts, output=output)


POPULATION_HEADER = "patient,region,time_h,activity_mbq,administered_mbq\n"
KIDNEY = ((4, 30.7), (24, 29.2), (72, 16.3), (168, 3.9))


def population_rows(patient, region="Kidney left", scale=1.0):
    return "".join(f"{patient},{region},{t},{a * scale:.4g},7400\n" for t, a in KIDNEY)


@pytest.mark.parametrize(("text", "texts"), [
    # P3's kidney written twice, once lower-case: a separate region "kidney left" with one patient.
    pytest.param(POPULATION_HEADER + population_rows("P1") + population_rows("P2", scale=1.1)
                 + population_rows("P3", scale=0.9) + population_rows("P4", "kidney left"),
                 ("region names that differ only in letter case or spacing",
                  "'Kidney left' (lines 2, 3, 4, 5, 6, ...)", "'kidney left' (lines 14, 15, 16, 17)"),
                 id="population-region-case"),
    pytest.param(POPULATION_HEADER + population_rows("P1") + population_rows("P2", scale=1.1)
                 + population_rows("p1", scale=0.9),
                 ("patient names that differ only in letter case or spacing", "'P1' (lines 2, 3, 4, 5)",
                  "'p1' (lines 10, 11, 12, 13)", "Spell each patient the same way"),
                 id="population-patient-case"),
    pytest.param(POPULATION_HEADER + population_rows("P1") + "P2,Kidney left,4,30,7,7400\n",
                 ("line 6: 6 fields but the header has 5: 'P2,Kidney left,4,30,7,7400' looks like a number written "
                  "with a comma, decimal or thousands ('4,30' or '30,7' or '7,7400')",
                  "Decimal comma: write 1.5, not 1,5"),
                 id="population-decimal-comma"),
])
def test_bad_population_csv_is_refused_with_the_lines(tmp_path, capsys, text, texts):
    tacs = write(tmp_path / "tacs.csv", text)
    output = tmp_path / "out"
    assert_refused(run(capsys, "population", tacs, "-o", output), *texts, output=output)


@pytest.mark.parametrize(("cells", "text"), [
    pytest.param("weight", None, id="accept-known"),
    pytest.param("wieght", "column 'accept': Unknown check(s) to accept: wieght", id="accept-unknown"),
])
def test_cohort_accept_column_is_checked(synthetic_patient_dir, tmp_path, capsys, cells, text):
    from ragaliv.cohort.table import read_cohort

    cohort = write(tmp_path / "COHORT.csv", f"patient_id,study,accept,confirm_consistency\n"
                   f"P1,{synthetic_patient_dir / 'spect' / 'study.json'},{cells},maybe\n")
    row = read_cohort(str(cohort)).rows[0]
    problems = " ".join(row.problems)
    assert "column 'confirm_consistency': 'maybe' is not yes or no" in problems
    if text is None:
        assert row.values["accept"] == ("weight",) and "accept" not in problems
    else:
        assert text in problems and "line 2" in problems
