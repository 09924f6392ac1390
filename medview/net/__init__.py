"""PACS connectivity (issue 9): DIMSE and DICOMweb clients, storage SCP. No Qt."""
