"""PACS nodes and medview's Storage SCP in the settings file, for the GUI (issue 9).

The nodes live where ``medview pacs --node NAME`` reads them: ``[pacs.nodes.NAME]`` tables
in ``settings.toml`` (see :mod:`medview.net.nodes`), the listener in ``[pacs.listener]``.

Credentials (DICOMweb username + password, or bearer token) are handled in one of two ways,
chosen per node in the dialog:

- **remembered**: written into the node's table; the settings file is then made readable by
  its owner only (mode 0600; the atomic writer's temp file already is, the chmod says so
  explicitly and covers a file created otherwise);
- **for this session only** (the default): kept in a :class:`SessionSecrets` in memory and
  forgotten when medview quits; nothing of them reaches the file. The username goes with
  them: a table with a username and no password would be an invalid node for the command
  line, and one invalid node stops ``parse_nodes`` for all.

Credentials never reach a log line: :meth:`~medview.net.nodes.Node.describe` is what logs
and messages show.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from medview.net.errors import NodeConfigError
from medview.net.nodes import (
    DEFAULT_CALLING_AET,
    DEFAULT_TIMEOUT_S,
    Node,
    check_ae_title,
    check_port,
    make_node,
)
from medview.net.scp import DEFAULT_SCP_AET, DEFAULT_SCP_PORT

__all__ = [
    "SECRET_KEYS",
    "NodeEntry",
    "SessionSecrets",
    "listener_config",
    "load_entries",
    "save_entries",
    "set_listener_config",
    "usable_nodes",
]

log = logging.getLogger(__name__)

#: The keys of a node table that are credentials.
SECRET_KEYS = ("username", "password", "token")
_ADDRESS_KEYS = ("ae_title", "host", "port", "base_url", "calling_ae_title", "timeout")


class SessionSecrets:
    """Credentials kept for this session only: node name -> {username, password, token}."""

    def __init__(self) -> None:
        self._by_node: dict[str, dict[str, str]] = {}

    def get(self, name: str) -> dict[str, str]:
        return dict(self._by_node.get(name, {}))

    def set(self, name: str, values: Mapping[str, str]) -> None:
        kept = {k: str(values.get(k) or "") for k in SECRET_KEYS if values.get(k)}
        if kept:
            self._by_node[name] = kept
        else:
            self._by_node.pop(name, None)

    def forget(self, name: str) -> None:
        self._by_node.pop(name, None)

    def __repr__(self) -> str:  # never the values
        return f"SessionSecrets({sorted(self._by_node)})"


@dataclass
class NodeEntry:
    """One node as the dialog edits it.

    Attributes
    ----------
    name
        The table name (letters, digits, ``_ - .``).
    values
        ``ae_title``, ``host``, ``port``, ``base_url``, ``calling_ae_title``, ``timeout`` and
        the credentials ``username``, ``password``, ``token`` (missing or empty: not set).
    remember
        Write the credentials into the settings file (else: this session only).
    """

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    remember: bool = False

    def node(self) -> Node:
        """The validated :class:`~medview.net.nodes.Node` (raises NodeConfigError)."""
        values = {k: v for k, v in self.values.items() if v not in ("", None)}
        return make_node(self.name, **values)

    def table(self) -> dict[str, Any]:
        """What goes into ``[pacs.nodes.NAME]``: credentials only when remembered."""
        keys = _ADDRESS_KEYS + (SECRET_KEYS if self.remember else ())
        table = {k: self.values[k] for k in keys if self.values.get(k) not in ("", None)}
        if table.get("calling_ae_title") == DEFAULT_CALLING_AET:
            del table["calling_ae_title"]
        if float(table.get("timeout", DEFAULT_TIMEOUT_S)) == DEFAULT_TIMEOUT_S:
            table.pop("timeout", None)
        return table


def _pacs(settings) -> dict[str, Any]:
    pacs = settings.extra.get("pacs")
    return pacs if isinstance(pacs, dict) else {}


def load_entries(settings, secrets: SessionSecrets) -> list[NodeEntry]:
    """The nodes of ``settings`` (a :class:`~medview.model.settings.Settings`), in order.

    Session credentials are merged in; an entry is returned even when it is invalid (the
    dialog shows why and lets the user fix it).
    """
    entries = []
    nodes = _pacs(settings).get("nodes")
    for name, table in (nodes if isinstance(nodes, dict) else {}).items():
        values = dict(table) if isinstance(table, Mapping) else {}
        remember = any(values.get(k) for k in SECRET_KEYS)
        if not remember:
            values.update(secrets.get(str(name)))
        entries.append(NodeEntry(str(name), values, remember))
    return entries


def usable_nodes(settings, secrets: SessionSecrets) -> tuple[dict[str, Node], list[str]]:
    """Valid nodes by name, and one sentence per invalid entry (skipped, not fatal)."""
    nodes, problems = {}, []
    for entry in load_entries(settings, secrets):
        try:
            nodes[entry.name] = entry.node()
        except NodeConfigError as exc:
            problems.append(str(exc))
    return nodes, problems


def save_entries(settings, entries: list[NodeEntry], secrets: SessionSecrets) -> None:
    """Validate ``entries`` and write them as the nodes of ``settings`` (then saved).

    Raises
    ------
    NodeConfigError
        A duplicate or invalid name, or an invalid node (named); nothing is written then.
    OSError
        The settings file cannot be written.
    """
    tables: dict[str, dict[str, Any]] = {}
    for entry in entries:
        entry.node()  # validates, naming the node
        if entry.name in tables:
            raise NodeConfigError(f"two nodes are called {entry.name!r}")
        tables[entry.name] = entry.table()
    pacs = dict(_pacs(settings))
    pacs["nodes"] = tables
    settings.extra["pacs"] = pacs
    for entry in entries:
        secrets.set(entry.name, {} if entry.remember else entry.values)
    _save_private(settings)


def listener_config(settings) -> tuple[str, int]:
    """medview's Storage SCP AE title and port from ``[pacs.listener]`` (or the defaults)."""
    listener = _pacs(settings).get("listener")
    listener = listener if isinstance(listener, dict) else {}
    try:
        aet = check_ae_title(listener.get("ae_title") or DEFAULT_SCP_AET, "listener AE title")
        port = check_port(listener.get("port") or DEFAULT_SCP_PORT, "listener port")
    except NodeConfigError as exc:
        log.warning("settings [pacs.listener]: %s; using %s:%d", exc, DEFAULT_SCP_AET,
                    DEFAULT_SCP_PORT)  # fmt: skip
        return DEFAULT_SCP_AET, DEFAULT_SCP_PORT
    return aet, port


def set_listener_config(settings, ae_title: str, port: int | str) -> tuple[str, int]:
    """Validate and store the listener's AE title and port (saved). Raises NodeConfigError."""
    aet = check_ae_title(ae_title, "listener AE title")
    number = check_port(port, "listener port")
    pacs = dict(_pacs(settings))
    pacs["listener"] = {"ae_title": aet, "port": number}
    settings.extra["pacs"] = pacs
    _save_private(settings)
    return aet, number


def _save_private(settings) -> None:
    if settings.path is None:
        return  # settings that were never loaded from a file are not written (tests, embedders)
    path = settings.save()
    # The file may hold remembered credentials: readable by its owner only.
    os.chmod(path, 0o600)
