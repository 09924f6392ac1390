"""Remote DICOM nodes: a PACS reached by DIMSE (AE title, host, port) or DICOMweb (base URL).

The settings file holds them as ``[pacs.nodes.NAME]`` tables; :func:`parse_nodes` turns that
plain dict into validated :class:`Node` objects. Credentials are kept out of ``repr`` and of
every message: :meth:`Node.describe` is what logs and errors show.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from medview.net.errors import NodeConfigError

#: medview's own AE title unless the settings or ``--aet`` say otherwise.
DEFAULT_CALLING_AET = "MEDVIEW"
DEFAULT_TIMEOUT_S = 30.0
# PS3.5 6.2: an AE title is 1-16 characters of the default repertoire, no backslash or
# control characters, not only spaces.
_AE_TITLE = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def check_ae_title(value: str, what: str = "AE title") -> str:
    """Return ``value`` stripped if it is a valid AE title, else raise NodeConfigError."""
    text = str(value).strip()
    if not text or not _AE_TITLE.match(text):
        raise NodeConfigError(f"{what} {value!r} is not a valid AE title (1-16 characters)")
    return text


def check_port(value: Any, what: str = "port") -> int:
    """Return ``value`` as a TCP port number 1..65535, else raise NodeConfigError."""
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise NodeConfigError(f"{what} {value!r} is not a number") from None
    if isinstance(value, bool) or not 1 <= port <= 65535:
        raise NodeConfigError(f"{what} {value!r} must be between 1 and 65535")
    return port


def check_base_url(value: str) -> str:
    """Return a DICOMweb base URL without a trailing slash; credentials in it are refused."""
    parts = urlsplit(str(value).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NodeConfigError("DICOMweb URL must start with http:// or https:// and name a host")
    if parts.username or parts.password:
        # They would end up in logs (requests and dicomweb-client log URLs).
        raise NodeConfigError(
            "put DICOMweb credentials in username/password or token, not in the URL"
        )
    return str(value).strip().rstrip("/")


@dataclass(frozen=True)
class Node:
    """One remote node.

    Attributes
    ----------
    name
        The settings table name (``""`` for a node given on the command line).
    ae_title, host, port
        The peer's DIMSE address (Called AE title, PS3.8 7.1.1.4).
    base_url
        DICOMweb service root, e.g. ``https://pacs/dicom-web`` (empty: no DICOMweb).
    calling_ae_title
        medview's AE title on associations with this node.
    username, password, token
        DICOMweb credentials: basic (username + password) or bearer (token). Not shown by
        ``repr``.
    timeout_s
        Connection, ACSE, DIMSE and HTTP timeout in seconds.
    """

    name: str = ""
    ae_title: str = ""
    host: str = ""
    port: int = 0
    base_url: str = ""
    calling_ae_title: str = DEFAULT_CALLING_AET
    username: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    timeout_s: float = DEFAULT_TIMEOUT_S

    @property
    def has_dimse(self) -> bool:
        return bool(self.ae_title and self.host and self.port)

    @property
    def has_dicomweb(self) -> bool:
        return bool(self.base_url)

    def describe(self) -> str:
        """How messages name the node: ``AE@host:port`` or the URL; never credentials."""
        parts = []
        if self.has_dimse:
            parts.append(f"{self.ae_title}@{self.host}:{self.port}")
        if self.has_dicomweb:
            parts.append(self.base_url)
        text = " / ".join(parts) or "(no address)"
        return f"{self.name} ({text})" if self.name else text

    def require_dimse(self) -> Node:
        if not self.has_dimse:
            raise NodeConfigError(
                f"node {self.describe()} has no DIMSE address: give --host, --port and "
                "--called-aet, or host, port and ae_title in its settings"
            )
        return self

    def require_dicomweb(self) -> Node:
        if not self.has_dicomweb:
            raise NodeConfigError(
                f"node {self.describe()} has no DICOMweb URL: give --dicomweb URL or base_url"
            )
        return self


_KEYS = {
    "ae_title", "host", "port", "base_url", "calling_ae_title",
    "username", "password", "token", "timeout",
}  # fmt: skip


def make_node(name: str = "", **values: Any) -> Node:
    """Build and validate one node from keyword values (the keys of a settings table).

    Raises
    ------
    NodeConfigError
        An unknown key, an invalid AE title, port or URL, an incomplete DIMSE address, or
        both basic and bearer credentials.
    """
    where = f"node {name!r}: " if name else ""
    unknown = sorted(set(values) - _KEYS)
    if unknown:
        raise NodeConfigError(f"{where}unknown setting(s) {', '.join(unknown)}")
    try:
        ae_title = check_ae_title(values["ae_title"]) if values.get("ae_title") else ""
        port = check_port(values["port"]) if values.get("port") not in (None, "") else 0
        base_url = check_base_url(values["base_url"]) if values.get("base_url") else ""
        calling = check_ae_title(
            values.get("calling_ae_title") or DEFAULT_CALLING_AET, "calling AE title"
        )
        timeout = float(values.get("timeout", DEFAULT_TIMEOUT_S))
    except (TypeError, ValueError):
        raise NodeConfigError(f"{where}timeout must be a number of seconds") from None
    except NodeConfigError as exc:
        raise NodeConfigError(where + str(exc)) from None
    host = str(values.get("host") or "").strip()
    if not timeout > 0:
        raise NodeConfigError(f"{where}timeout must be a positive number of seconds")
    dimse = [bool(ae_title), bool(host), bool(port)]
    if any(dimse) and not all(dimse):
        raise NodeConfigError(f"{where}a DIMSE node needs ae_title, host and port together")
    if not any(dimse) and not base_url:
        raise NodeConfigError(f"{where}give ae_title, host and port, or base_url")
    username, password = str(values.get("username") or ""), str(values.get("password") or "")
    token = str(values.get("token") or "")
    if token and (username or password):
        raise NodeConfigError(f"{where}give either username/password or token, not both")
    if bool(username) != bool(password):
        raise NodeConfigError(f"{where}basic authentication needs both username and password")
    return Node(
        name=name,
        ae_title=ae_title,
        host=host,
        port=port,
        base_url=base_url,
        calling_ae_title=calling,
        username=username,
        password=password,
        token=token,
        timeout_s=timeout,
    )


def parse_nodes(table: Mapping[str, Any] | None) -> dict[str, Node]:
    """Validate the ``[pacs.nodes]`` table of the settings: ``{NAME: {key: value}}``.

    Parameters
    ----------
    table
        The dict under ``pacs.nodes`` (``None`` or empty: no nodes).

    Returns
    -------
    dict
        Node name -> :class:`Node`, in the file's order.

    Raises
    ------
    NodeConfigError
        The first invalid entry, named.
    """
    nodes: dict[str, Node] = {}
    for name, values in (table or {}).items():
        if not _NAME.match(str(name)):
            raise NodeConfigError(f"node name {name!r}: use letters, digits, '_', '-', '.'")
        if not isinstance(values, Mapping):
            raise NodeConfigError(f"node {name!r} must be a table of settings")
        nodes[str(name)] = make_node(str(name), **dict(values))
    return nodes
