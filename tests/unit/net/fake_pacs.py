"""Tiny misbehaving DICOM peers for the failure tests (no Orthanc needed)."""

from __future__ import annotations

import socket
import threading
import time

from pydicom import dcmread
from pynetdicom import AE, evt
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    Verification,
)

from medview.net.contexts import GET_STORAGE_CLASSES, TRANSFER_SYNTAXES

AET = "FAKEPACS"


class SilentServer:
    """Accepts TCP connections and never says a word (association timeout)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        self.sock.close()


class FakePacs:
    """A pynetdicom SCP whose C-FIND / C-GET behaviour a test chooses.

    Parameters
    ----------
    files
        Part 10 files it serves on C-GET.
    mode
        ``"abort_after:N"`` sends N instances then aborts the association;
        ``"foreign_class"`` sends one instance the SCU did not ask for (a failed sub-op);
        ``"slow_find"`` answers C-FIND after ``delay`` seconds.
    """

    def __init__(self, files, mode: str, delay: float = 3.0) -> None:
        self.datasets = [dcmread(f) for f in files]
        self.mode = mode
        self.delay = delay
        ae = AE(ae_title=AET)
        ae.require_called_aet = True
        ae.add_supported_context(Verification)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
        for uid in GET_STORAGE_CLASSES:
            ae.add_supported_context(uid, TRANSFER_SYNTAXES, scu_role=True, scp_role=True)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
        self.server = ae.start_server(
            ("127.0.0.1", 0),
            block=False,
            evt_handlers=[(evt.EVT_C_GET, self._on_get), (evt.EVT_C_FIND, self._on_find)],
        )
        self.port = self.server.server_address[1]

    def _on_find(self, event):
        time.sleep(self.delay if self.mode == "slow_find" else 0)
        yield 0x0000, None

    def _on_get(self, event):
        if self.mode.startswith("abort_after:"):
            count = int(self.mode.split(":")[1])
            yield len(self.datasets)
            for ds in self.datasets[:count]:
                yield 0xFF00, ds
            event.assoc.abort()
            return
        if self.mode == "foreign_class":
            first = self.datasets[0]
            other = dcmread_copy(self.datasets[1])
            other.SOPClassUID = "1.2.840.10008.5.1.4.1.1.9.1.1"  # 12-lead ECG: not proposed
            other.file_meta.MediaStorageSOPClassUID = other.SOPClassUID
            yield 2
            yield 0xFF00, first
            yield 0xFF00, other
            return
        yield 0
        return

    def close(self) -> None:
        self.server.shutdown()


def dcmread_copy(ds):
    import copy

    return copy.deepcopy(ds)
