"""Reading and writing images, DICOM series and segmentations."""
