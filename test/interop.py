#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""CPython's socket module as the peer of libusock.

Run by test/interop.c (the libusock side), never alone:
    interop.py probe                    exit 0 if this Python can take part,
                                        77 (with the reason) if it cannot
    interop.py fd N                     the peer is the inherited socket fd N
    interop.py connect ADDR TYPE        connect to ADDR ('@name' is abstract)
                                        with TYPE 'seqpacket' or 'stream'

The exchange, one message in flight at a time (so that a stream read takes
exactly one message); "ok" answers "ready" and each step, and "go" hands
the turn to libusock after step 4:
 1. send_fds(): a file, a pipe and a socket, their st_dev:st_ino listed
 2. sendmsg() with SCM_CREDENTIALS claiming our own pid/uid/gid
 3. a plain send(): the kernel attaches our credentials anyway
 4. sendmsg() with SCM_CREDENTIALS and SCM_RIGHTS together
 5. recv_fds(): libusock's fds, checked by st_dev:st_ino and content
 6. recvmsg() with SO_PASSCRED turned on: the sender's credentials,
    attached by the kernel
 7. the same, sent explicitly together with an fd
Then we close; libusock must see end of file. Exit 0, or 1 with the reason.
"""

import array
import os
import socket
import struct
import sys
import tempfile

UCRED = struct.Struct("iII")  # struct ucred: pid, uid, gid


def fail(msg):
    print(f"interop.py: FAIL: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def probe():
    missing = [
        name
        for name in ("AF_UNIX", "send_fds", "recv_fds", "SO_PASSCRED",
                     "SCM_CREDENTIALS", "SCM_RIGHTS", "CMSG_SPACE")
        if not hasattr(socket, name)
    ]
    if missing:
        print(f"SKIP: Python {sys.version.split()[0]} lacks socket."
              f"{', socket.'.join(missing)} (needs Python >= 3.9 on Linux)")
        sys.exit(77)
    sys.exit(0)


def ident(fd):
    st = os.fstat(fd)
    return f"{st.st_dev}:{st.st_ino}"


def recv_msg(sock):
    data = sock.recv(256)
    check(data, "libusock closed the socket early")
    return data.decode()


def expect_ok(sock, step):
    reply = recv_msg(sock)
    check(reply == f"ok {step}", f"step {step}: libusock said {reply!r}")


def parse_creds(ancdata):
    """The credentials in ancdata, and the fds of every SCM_RIGHTS."""
    creds, fds = None, []
    for level, kind, data in ancdata:
        check(level == socket.SOL_SOCKET, f"cmsg level {level}")
        if kind == socket.SCM_CREDENTIALS:
            creds = UCRED.unpack(data[:UCRED.size])
        elif kind == socket.SCM_RIGHTS:
            arr = array.array("i")
            arr.frombytes(data[:len(data) - len(data) % arr.itemsize])
            fds.extend(arr)
        else:
            fail(f"unexpected cmsg type {kind}")
    return creds, fds


def send_to_libusock(sock):
    me = (os.getpid(), os.getuid(), os.getgid())

    # 1. fds: a file with content, a pipe holding text, a socket.
    with tempfile.TemporaryFile() as f:
        f.write(b"python-file")
        f.flush()
        r, w = os.pipe()
        os.write(w, b"python-pipe")
        os.close(w)
        s1, s2 = socket.socketpair()
        fds = [f.fileno(), r, s1.fileno()]
        text = "fds " + " ".join(ident(fd) for fd in fds)
        check(socket.send_fds(sock, [text.encode()], fds) == len(text),
              "send_fds was short")
        os.close(r)
        s1.close()
        s2.close()
        expect_ok(sock, 1)

    # 2. explicit credentials.
    text = "creds %d %d %d" % me
    sock.sendmsg([text.encode()],
                 [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, UCRED.pack(*me))])
    expect_ok(sock, 2)

    # 3. none sent: the receiver has SO_PASSCRED, the kernel adds them.
    sock.send(b"plain")
    expect_ok(sock, 3)

    # 4. both at once.
    with tempfile.TemporaryFile() as f:
        text = "both %s" % ident(f.fileno())
        sock.sendmsg([text.encode()], [
            (socket.SOL_SOCKET, socket.SCM_CREDENTIALS, UCRED.pack(*me)),
            (socket.SOL_SOCKET, socket.SCM_RIGHTS,
             array.array("i", [f.fileno()]).tobytes()),
        ])
        expect_ok(sock, 4)
    # Our turn to listen: nothing of libusock's may be in flight before.
    sock.send(b"go")


def receive_from_libusock(sock):
    # 5. libusock's fds: "fds DEV:INO TEXT DEV:INO TEXT". SO_PASSCRED is
    # still off: socket.recv_fds() has no room for credentials.
    msg, fds, flags, _ = socket.recv_fds(sock, 256, 8)
    check(flags & socket.MSG_CTRUNC == 0, "step 5: MSG_CTRUNC")
    words = msg.decode().split()
    check(words[0] == "fds", f"step 5: got {msg!r}")
    check(len(fds) == 2, f"step 5: {len(fds)} fds arrived")
    for fd, want_id, want_text in zip(fds, words[1::2], words[2::2]):
        check(ident(fd) == want_id,
              f"step 5: fd {fd} is {ident(fd)}, libusock sent {want_id}")
        got = os.pread(fd, 64, 0) if want_text.endswith("file") \
            else os.read(fd, 64)
        check(got == want_text.encode(), f"step 5: fd held {got!r}")
        os.close(fd)
    # On before the answer: what libusock sends next is stamped.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.send(b"ok 5")

    # 6. with SO_PASSCRED on: the sender's credentials.
    space = socket.CMSG_SPACE(UCRED.size) + socket.CMSG_SPACE(4 * 4)
    msg, anc, flags, _ = sock.recvmsg(256, space)
    check(flags & socket.MSG_CTRUNC == 0, "step 6: MSG_CTRUNC")
    creds, fds = parse_creds(anc)
    words = msg.decode().split()
    check(words[0] == "pid", f"step 6: got {msg!r}")
    sender = (int(words[1]), os.getuid(), os.getgid())
    check(creds == sender, f"step 6: credentials {creds}, want {sender}")
    check(not fds, "step 6: unexpected fds")
    sock.send(b"ok 6")

    # 7. explicit credentials and an fd.
    msg, anc, flags, _ = sock.recvmsg(256, space)
    check(flags & socket.MSG_CTRUNC == 0, "step 7: MSG_CTRUNC")
    creds, fds = parse_creds(anc)
    words = msg.decode().split()
    check(words[0] == "explicit", f"step 7: got {msg!r}")
    check(creds == sender, f"step 7: credentials {creds}, want {sender}")
    check(len(fds) == 1 and ident(fds[0]) == words[1],
          f"step 7: fds {fds}, want one that is {words[1]}")
    for fd in fds:
        os.close(fd)
    sock.send(b"ok 7")


def main(argv):
    if argv[1:] == ["probe"]:
        probe()
    if len(argv) == 3 and argv[1] == "fd":
        sock = socket.socket(fileno=int(argv[2]))
        check(sock.family == socket.AF_UNIX, f"fd is {sock.family}")
    elif len(argv) == 4 and argv[1] == "connect":
        kind = {"seqpacket": socket.SOCK_SEQPACKET,
                "stream": socket.SOCK_STREAM}[argv[3]]
        sock = socket.socket(socket.AF_UNIX, kind)
        addr = argv[2]
        sock.connect("\0" + addr[1:] if addr.startswith("@") else addr)
        # SO_PEERCRED of the listener: the libusock process, our parent.
        pid, uid, gid = UCRED.unpack(sock.getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, UCRED.size))
        check((pid, uid, gid) == (os.getppid(), os.getuid(), os.getgid()),
              f"SO_PEERCRED {(pid, uid, gid)}")
    else:
        fail(f"usage: {argv[0]} probe | fd N | connect ADDR TYPE")

    sock.send(b"ready")
    expect_ok(sock, 0)
    send_to_libusock(sock)
    receive_from_libusock(sock)
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
