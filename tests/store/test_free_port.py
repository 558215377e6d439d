"""free_port: loopback ports a restarted server can take back (outside the outgoing-connection range)."""

from __future__ import annotations

import socket

from store.embedded.server_process import _ephemeral_ports, free_port


def test_free_port_is_bindable_and_outside_the_outgoing_connection_range() -> None:
    ephemeral = _ephemeral_ports()
    for span in (1, 2, 4):
        base = free_port(span)
        ports = range(base, base + span)
        assert not set(ports) & set(ephemeral)
        for port in ports:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))  # raises if it was not free


def test_free_port_avoids_the_ports_already_taken() -> None:
    first = free_port(2)
    taken = frozenset(range(first, first + 2))
    for _ in range(50):
        port = free_port(2, taken)
        assert not taken & {port, port + 1}


def test_an_outgoing_connection_never_lands_on_a_free_port() -> None:
    """What the choice guards against: a client socket's local port is the kernel's pick."""
    port = free_port()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        clients = [socket.create_connection(listener.getsockname()) for _ in range(20)]
        try:
            assert port not in {c.getsockname()[1] for c in clients}
            assert all(c.getsockname()[1] in _ephemeral_ports() for c in clients)
        finally:
            for c in clients:
                c.close()
