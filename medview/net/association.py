"""Open a DIMSE association with a node and turn every failure into a NetworkError.

PS3.8 7.1 (A-ASSOCIATE): the peer may accept, reject (A-ASSOCIATE-RJ, e.g. an unknown
Called AE title) or not answer; the transport may be refused or dropped (A-ABORT, A-P-ABORT).
pynetdicom reports a refused connection and an unanswered request the same way (aborted), so
an event handler records whether the TCP connection opened at all.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import NoReturn

from pynetdicom import AE, evt
from pynetdicom.association import Association

from medview.net.errors import (
    AssociationRejectedError,
    NetworkTimeoutError,
    PeerUnreachableError,
    TransferAbortedError,
)
from medview.net.nodes import Node

log = logging.getLogger(__name__)

# PS3.8 Table 9-21: A-ASSOCIATE-RJ result source / reason (diagnostic).
_REJECT_REASONS = {
    (1, 2): "application context name not supported",
    (1, 3): "calling AE title not recognised",
    (1, 7): "called AE title not recognised",
    (2, 2): "protocol version not supported",
    (3, 1): "peer temporarily congested",
    (3, 2): "local limit exceeded",
}

#: Largest PDU medview accepts (0 would mean unlimited; 1 MiB keeps memory bounded).
MAX_PDU = 1 << 20


def make_ae(node: Node) -> AE:
    """An AE with the node's calling AE title and timeouts."""
    ae = AE(ae_title=node.calling_ae_title)
    ae.connection_timeout = node.timeout_s
    ae.acse_timeout = node.timeout_s
    ae.dimse_timeout = node.timeout_s
    ae.network_timeout = node.timeout_s
    ae.maximum_pdu_size = MAX_PDU
    return ae


@contextlib.contextmanager
def associate(
    node: Node,
    contexts: list,
    *,
    roles: list | None = None,
    handlers: list | None = None,
    what: str = "association",
) -> Iterator[Association]:
    """Associate with ``node`` proposing ``contexts``; release (or abort) on exit.

    Raises
    ------
    PeerUnreachableError, AssociationRejectedError, NetworkTimeoutError, TransferAbortedError
        With one sentence naming the node (never its credentials).
    """
    node.require_dimse()
    ae = make_ae(node)
    ae.requested_contexts = contexts
    opened: list[bool] = []
    events = [(evt.EVT_CONN_OPEN, lambda _event: opened.append(True)), *(handlers or [])]
    started = time.monotonic()
    assoc = ae.associate(
        node.host,
        node.port,
        ae_title=node.ae_title,
        ext_neg=roles or None,
        evt_handlers=events,
        max_pdu=MAX_PDU,
    )
    where = node.describe()
    if assoc.is_rejected:
        primitive = assoc.acceptor.primitive
        key = (primitive.result_source, primitive.diagnostic) if primitive else (0, 0)
        reason = _REJECT_REASONS.get(key, f"source {key[0]}, reason {key[1]}")
        raise AssociationRejectedError(
            f"{where} rejected the association ({reason}); check the called AE title "
            f"and that the PACS knows medview's AE title {node.calling_ae_title!r}"
        )
    if not assoc.is_established:
        if not opened:
            raise PeerUnreachableError(
                f"nothing is listening at {node.host}:{node.port} ({where}); check the host, "
                "port and that the PACS is running"
            )
        if time.monotonic() - started >= 0.9 * node.timeout_s:
            raise NetworkTimeoutError(
                f"{where} did not answer the association request within {node.timeout_s:g} s"
            )
        raise TransferAbortedError(f"{where} closed the connection during association")
    log.info("%s with %s established", what, where)
    try:
        yield assoc
    except BaseException:
        # Interrupted or failed mid-operation: A-ABORT (PS3.8 7.3) rather than a release
        # the peer would answer only after its pending responses.
        if assoc.is_established:
            assoc.abort()
        raise
    if assoc.is_established:
        assoc.release()


def raise_lost(assoc: Association, node: Node, what: str, started: float) -> NoReturn:
    """Raise for an operation that got no response: a DIMSE timeout, an abort or a drop.

    pynetdicom answers these with an empty status; the association thread may still be
    closing, so give it a moment before telling them apart by the time since ``started``
    (the request or the last message received).
    """
    deadline = time.monotonic() + 1.0
    while assoc.is_established and time.monotonic() < deadline:
        time.sleep(0.01)
    if time.monotonic() - started >= 0.9 * node.timeout_s:
        raise NetworkTimeoutError(
            f"{node.describe()} did not answer {what} within {node.timeout_s:g} s"
        )
    raise TransferAbortedError(f"{node.describe()} dropped the connection during {what}")


def wake_to_abort(assoc: Association) -> None:
    """Wake the thread waiting for ``assoc``'s next message, so that it aborts (cancel).

    Called from another thread (:mod:`medview.net.cancel`). Aborting from that thread raced
    with the worker sending a C-STORE response (pynetdicom's reactor then died on an invalid
    state-machine event), so the abort happens in the worker: ``(None, None)`` is what the
    DIMSE message queue yields for "no message", the response generator then aborts the
    association itself (logging it as a DIMSE timeout) and yields an empty status, which the
    caller turns into :class:`~medview.core.errors.Cancelled`.
    """
    log.info("cancel requested: aborting the association")
    assoc.dimse.msg_queue.put((None, None))
