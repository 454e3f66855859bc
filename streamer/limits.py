"""The process's own limits: file descriptors for thousands of listeners, and memory given
back after a load peak."""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import resource
import socket
import struct
import termios


def raise_fd_limit() -> int:
    """Listeners are sockets: lift the soft open-files limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            return hard
        except (ValueError, OSError):
            pass
    return soft


def release_memory() -> None:
    """Hand freed heap back to the kernel: after thousands of clients come and go, glibc would
    otherwise keep the peak's pages mapped for good."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc


def cap_socket_buffer(transport: asyncio.BaseTransport, option: int, size: int) -> None:
    """Bound a connection's kernel buffer (socket.SO_SNDBUF or SO_RCVBUF): Linux grows them to
    megabytes for a peer that stops reading (or that we stop reading), so a stalled client
    would pin memory, and a source sending too fast would queue minutes of audio unseen."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, size)
        except OSError:
            pass


def discard_unsent(transport: asyncio.Transport) -> int:
    """Make the transport's coming abort() discard what has not reached the peer, and say how
    many bytes that is: the transport's own buffer and the kernel's send queue (Linux TIOCOUTQ).
    SO_LINGER 0 makes the close a reset: without it the kernel goes on sending its queue to a
    peer that may never read it, holding the orphaned socket's memory for minutes."""
    size = transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            size += struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except (OSError, ValueError):
            pass  # closed already, or not a socket the kernel counts
    return size
