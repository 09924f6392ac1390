"""Network errors: what went wrong talking to a PACS, in one sentence.

Every failure in :mod:`medview.net` ends in one of these (ARCHITECTURE.md, rule 5); the CLI
prints ``str(err)`` on one line. Messages name the node (``AE@host:port`` or the base URL)
but never a password or token.
"""

from __future__ import annotations

from medview.core.errors import MedviewError


class NetworkError(MedviewError):
    """A DIMSE or DICOMweb operation failed (the message says what and with whom)."""


class NodeConfigError(NetworkError):
    """A remote node's settings are missing or invalid."""


class PeerUnreachableError(NetworkError):
    """Nothing answered at the node's address (connection refused, unknown host)."""


class AssociationRejectedError(NetworkError):
    """The peer rejected the association (PS3.8 9.3.4 A-ASSOCIATE-RJ), e.g. wrong AE title."""


class NetworkTimeoutError(NetworkError):
    """The peer did not answer within the timeout."""


class TransferAbortedError(NetworkError):
    """The association was aborted or dropped before the operation finished."""


class PartialRetrieveError(NetworkError):
    """A retrieve ended with some sub-operations failed or missing (PS3.4 C.4.2/C.4.3).

    Attributes
    ----------
    received, failed, expected
        Instances that arrived, sub-operations the peer reported failed, and the total it
        announced (``None`` when unknown).
    """

    def __init__(
        self, message: str, *, received: int = 0, failed: int = 0, expected: int | None = None
    ) -> None:
        super().__init__(message)
        self.received = received
        self.failed = failed
        self.expected = expected


class RemoteStatusError(NetworkError):
    """The peer answered with a failure status (DIMSE status or HTTP status)."""


class AuthenticationError(NetworkError):
    """A DICOMweb server refused the credentials (HTTP 401/403)."""
