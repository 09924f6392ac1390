"""medview: a desktop radiology workstation with embedded, honest AI."""

__version__ = "0.1.0"
