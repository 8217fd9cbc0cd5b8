"""Connects TCP sockets with small kernel buffers, then becomes another program
that adopts them (Node: subscriber-worker.mjs reads LOAD_FDS).

Why: a subscriber that stops reading first fills the loopback TCP buffers,
several MiB per socket here (the server's send buffer grows with the
loopback MSS of ~64 KiB). At 100-byte events that takes minutes, and a
thousand such sockets exceed the kernel's TCP memory limit, hurting every
other socket on the machine. A small SO_RCVBUF and a small MSS (TCP_MAXSEG,
which also bounds the server's send buffer) cut that to ~50 KiB, so a
stalled subscriber is felt by the server within seconds, as a stalled
browser on a real network would be. Node cannot set either option, hence
this helper.

Usage: python3 small-sockets.py HOST PORT COUNT FIRST RCVBUF MSS -- PROGRAM ARGS...
Source addresses are 127.0.0.(1 + n % 254) for n = FIRST .. FIRST+COUNT-1.
File descriptors already open (Node's IPC channel) are kept across exec.
"""
import os
import socket
import sys


def main():
    sep = sys.argv.index('--')
    host, port, count, first, rcvbuf, mss = sys.argv[1:sep]
    program = sys.argv[sep + 1:]
    fds = []
    for n in range(int(first), int(first) + int(count)):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, int(rcvbuf))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, int(mss))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.bind(('127.0.0.%d' % (1 + n % 254), 0))
        s.settimeout(10)
        s.connect((host, int(port)))
        s.setblocking(True)
        s.set_inheritable(True)
        fds.append(s.detach())
    os.environ['LOAD_FDS'] = ','.join(str(fd) for fd in fds)
    os.execvp(program[0], program)


if __name__ == '__main__':
    main()
