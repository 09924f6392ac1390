"""A real Orthanc on loopback for the network tests: generated config, own storage, own ports."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path

ORTHANC = shutil.which("Orthanc") or (
    "/usr/sbin/Orthanc" if Path("/usr/sbin/Orthanc").exists() else None
)
PLUGIN_DIRS = ("/usr/share/orthanc/plugins", "/usr/lib/orthanc", "/usr/local/share/orthanc/plugins")
USER, PASSWORD = "medview", "s3cret-Pa55"
AET = "ORTHANCTEST"


def dicomweb_plugin() -> Path | None:
    for folder in PLUGIN_DIRS:
        for path in sorted(Path(folder).glob("libOrthancDicomWeb.so*")):
            return path
    return None


def free_port() -> int:
    """A free high TCP port on loopback (the OS picks it from the ephemeral range)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class OrthancServer:
    process: subprocess.Popen
    folder: Path
    dicom_port: int
    http_port: int
    scp_aet: str
    scp_port: int
    aet: str = AET

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/dicom-web"

    def rest(self, method: str, path: str, body: bytes | None = None) -> object:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.http_port}{path}", data=body, method=method
        )
        token = b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            payload = response.read()
        return json.loads(payload) if payload else None

    def upload(self, files) -> None:
        for path in files:
            self.rest("POST", "/instances", Path(path).read_bytes())

    def stop(self) -> None:
        """Stop the server by its PID and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=15)


def start_orthanc(
    folder: Path, scp_aet: str = "MEDVIEW", scp_port: int | None = None
) -> OrthancServer:
    folder.mkdir(parents=True, exist_ok=True)
    dicom_port, http_port = free_port(), free_port()
    scp_port = scp_port or free_port()
    plugin = dicomweb_plugin()
    config = {
        "Name": "medview-test",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "storage"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "DicomAet": AET,
        "DicomCheckCalledAet": True,
        "DicomCheckModalityHost": False,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": True,
        "DicomAlwaysAllowGet": True,
        "DicomAlwaysAllowMove": True,
        "DicomModalities": {"medview": [scp_aet, "127.0.0.1", scp_port]},
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {USER: PASSWORD},
        "HttpsCACertificates": "",
        "SaveJobs": False,
        "StorageCompression": False,
        "Plugins": [str(plugin)] if plugin else [],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
    }
    config_path = folder / "orthanc.json"
    config_path.write_text(json.dumps(config, indent=2))
    log = (folder / "orthanc.log").open("wb")
    process = subprocess.Popen(
        [ORTHANC, f"--logdir={folder}", str(config_path)], stdout=log, stderr=subprocess.STDOUT
    )
    server = OrthancServer(process, folder, dicom_port, http_port, scp_aet, scp_port)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited: {(folder / 'orthanc.log').read_text()[-2000:]}")
        try:
            server.rest("GET", "/system")
            with socket.create_connection(("127.0.0.1", dicom_port), timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError("Orthanc did not start within 20 s")
