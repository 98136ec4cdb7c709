"""De-identification of batch result files (ragaliv.cohort.scrub): free text, documents, the leak check."""

import datetime
import json

from pydicom.dataset import Dataset
from ragaliv.cohort.scrub import ResultScrubber
from ragaliv.report.phi import Deidentifier


def scrubber_with_header() -> ResultScrubber:
    scrubber = ResultScrubber(Deidentifier(secret="site"), "12345678")
    header = Dataset()
    header.PatientName = "DOE^JOHN"
    header.PatientID = "12345678"
    header.OtherPatientIDs = ["H-777", "X9"]
    header.PatientBirthDate = "19580614"
    header.AccessionNumber = "ACC123"
    header.StudyDate = "20260310"
    header.SeriesInstanceUID = "1.2.840.113619.2.55.3"
    scrubber.add_header(header)
    scrubber.add_path("/data/DOE_JOHN/pet_ia", "ia", "DOE_JOHN/pet_ia")
    return scrubber


def test_free_text_loses_names_ids_dates_uids_and_paths():
    scrubber = scrubber_with_header()
    text = ("John Doe (12345678, H-777, acc. ACC123) born 1958-06-14/19580614, injected 2026-03-10T09:12:00, "
            "DICOM date 20260310, UID 1.2.840.113619.2.55.3, file /data/DOE_JOHN/pet_ia/PT_0001.dcm, "
            "other /home/x/DOE_JOHN/a.nrrd, 3.5 MBq/mL, version 3.0.2")
    result = scrubber.text(text)
    for leaked in ("John", "Doe", "12345678", "H-777", "ACC123", "1958-06-14", "19580614", "2026-03-10",
                   "20260310", "1.2.840.113619.2.55.3", "DOE_JOHN"):
        assert leaked.lower() not in result.lower(), (leaked, result)
    shift = Deidentifier(secret="site").date_shift_days("12345678")
    shifted = datetime.date(2026, 3, 10) - datetime.timedelta(days=shift)
    assert f"{shifted.isoformat()}T09:12:00" in result and shifted.strftime("%Y%m%d") in result
    assert scrubber.pseudonym in result and "<birth year 1958>" in result
    assert "2.25." in result and "<input: ia>/PT_0001.dcm" in result and "<path withheld>" in result
    assert "3.5 MBq/mL" in result and "version 3.0.2" in result
    assert scrubber.text("DOE_JOHN/pet_ia") == "<input: ia>"  # the path exactly as written in COHORT.csv
    assert scrubber.uid("1.2.840.113619.2.55.3") == scrubber.uid("1.2.840.113619.2.55.3")


def test_documents_keys_included_and_the_leak_check(tmp_path):
    scrubber = scrubber_with_header()
    document = scrubber.document({"DOE^JOHN": ["2026-03-10", {"uid": "1.2.840.113619.2.55.3"}], "n": 1.5})
    text = json.dumps(document)
    assert "DOE" not in text and "2026-03-10" not in text and document["n"] == 1.5
    (tmp_path / "clean.json").write_text(text, encoding="utf-8")
    assert scrubber.leaks(str(tmp_path)) == []
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "leaky.csv").write_text("a,b\nDoe John,20260310\n", encoding="utf-8")
    assert scrubber.leaks(str(tmp_path)) == ["date in sub/leaky.csv", "patient name in sub/leaky.csv"]
