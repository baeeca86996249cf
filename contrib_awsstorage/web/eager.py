"""Sending at once: a TCP transport that writes to its socket in the call
to ``write`` when nothing is waiting before the new bytes.

Twisted's ``FileDescriptor.write`` only buffers: the bytes leave on the
reactor's next turn (``doWrite``), after one ``epoll_ctl`` to watch for
"writable" and before another to stop watching. Between the portal and
the server every answer crosses two such waits and every request two
more; under load each wait is a whole turn of the loop, and the answer's
time through the portal doubles. asyncio's transports send at once when
their buffer is empty; this does the same for Twisted's TCP connections:

- only when the buffer is empty (order is kept), the connection is open
  and not closing, and no pull producer waits for the buffer to drain
  (``doWrite`` is what asks it for more);
- what the socket does not take, and any error, goes to Twisted's own
  buffered ``write``, whose ``doWrite`` then deals with it as always
  (back-pressure, producers, ``connectionLost``);
- a connection that has switched to TLS (``startTLS``) writes through
  Twisted as before.
"""

from __future__ import annotations

from functools import partial

from twisted.internet import tcp

#: FileDescriptor's buffer state this module reads (Twisted 22 to 26 alike).
_STATE = ("dataBuffer", "offset", "_tempDataBuffer", "_writeDisconnected", "producer")


def install(transport) -> bool:
    """Make ``transport`` send at once; False (and nothing changed) when it
    is not a plain Twisted TCP connection."""
    if not isinstance(transport, tcp.Connection) or transport.TLS:
        return False
    if not all(hasattr(transport, name) for name in _STATE):
        return False  # a Twisted whose buffer is built otherwise: leave it be
    transport.write = partial(_write, transport)
    transport.writeSequence = partial(_write_sequence, transport)
    return True


def _may_send_now(transport) -> bool:
    producer = transport.producer
    return (
        transport.connected
        and not transport.disconnecting
        and not transport._writeDisconnected
        and not getattr(transport, "_writeDisconnecting", False)
        and not transport._tempDataBuffer
        and transport.offset == len(transport.dataBuffer)
        and (producer is None or (transport.streamingProducer and not transport.producerPaused))
    )


def _write(transport, data):
    if type(data) is bytes and data and not transport.TLS and _may_send_now(transport):
        sent = transport.writeSomeData(data)
        if type(sent) is int and sent > 0:
            if sent == len(data):
                return
            data = data[sent:]
    type(transport).write(transport, data)  # buffered: the rest, errors, TLS, bad types


def _write_sequence(transport, iovec):
    if transport.TLS or not all(type(piece) is bytes for piece in iovec):
        type(transport).writeSequence(transport, iovec)
        return
    _write(transport, b"".join(iovec))
