"""Trial outputs: provenance sidecars, case reports, DICOM SEG/SR export."""
