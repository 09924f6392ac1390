"""DICOM import, local study database and series-to-Volume loading. pydicom only, no Qt."""
