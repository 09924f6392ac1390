"""HU-threshold blob detector: the bundled example plugin (see plugins/README.md)."""
