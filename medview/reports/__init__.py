"""Structured reports (issue 8): DICOM SR/SEG, PDF, JSON exporters. No Qt.

See ``medview/reports/README.md`` for the model, the exported content, the JSON schema and
the de-identification profile.
"""
