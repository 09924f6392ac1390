"""Structured reports (issue 8): DICOM SR/SEG, PDF, JSON exporters. No Qt."""
