#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""libusock from Python through ctypes alone: no compiler, no binding.

  test-ffi.py LIBRARY VERSION

Loads LIBRARY (the built libusock.so.1), declares argtypes and restype of
each call it makes, then: a SEQPACKET pair; a child (fork and exec of this
script with --child, its end of the pair passed down) adopts its end, opens
a file and sends its fd with the child's credentials; the parent receives
it, reads the file through it and checks the credentials against the
child; a call with a bad fd returns a negative errno that os.strerror
names. The ABI needs nothing but integers and opaque pointers, and this is
the proof. Exit 77 (a skip) for a sanitized library, whose runtime python
would have to preload (USOCK_TEST_SANITIZE, set by test/abi/meson.build),
and for a library this python cannot load (a cross build: elfident.py).
"""

import ctypes
import errno
import fcntl
import os
import subprocess
import sys
import tempfile
from ctypes import POINTER, byref, c_char_p, c_int, c_int32, c_size_t, \
    c_ssize_t, c_uint, c_uint32, c_void_p

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
import elfident  # noqa: E402  (shared with check-readme-python.py)

USOCK_SEQPACKET = 0     # include/usock.h
PAYLOAD = b'hello'
CONTENT = b'read through the passed fd\n'


def load(path):
    lib = ctypes.CDLL(path)
    handle = POINTER(c_void_p)
    for name, restype, argtypes in (
            ('usock_version', c_char_p, []),
            ('usock_pair', c_int, [c_int, c_int, handle, handle]),
            ('usock_adopt', c_int, [c_int, c_int, handle]),
            ('usock_close', None, [c_void_p]),
            ('usock_get_fd', c_int, [c_void_p]),
            ('usock_set_passcred', c_int, [c_void_p, c_int]),
            ('usock_msg_new', c_int, [handle]),
            ('usock_msg_free', None, [c_void_p]),
            ('usock_msg_add_fd', c_int, [c_void_p, c_int]),
            ('usock_msg_set_creds', c_int,
             [c_void_p, c_int32, c_uint32, c_uint32]),
            ('usock_msg_get_creds', c_int,
             [c_void_p, POINTER(c_int32), POINTER(c_uint32),
              POINTER(c_uint32)]),
            ('usock_msg_get_nfds', c_int, [c_void_p]),
            ('usock_msg_take_fd', c_int, [c_void_p, c_uint]),
            ('usock_send', c_ssize_t, [c_void_p, c_void_p, c_size_t,
                                       c_void_p]),
            ('usock_recv', c_ssize_t, [c_void_p, c_void_p, c_size_t,
                                       c_void_p])):
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


def check(what, got, want):
    if got != want:
        raise AssertionError('%s: got %r, want %r' % (what, got, want))


def open_fds():
    return sorted(int(fd) for fd in os.listdir('/proc/self/fd'))


def child(lib, fd, path):
    """Adopt the inherited end, send the file's fd and our credentials."""
    a = c_void_p()
    check('child usock_adopt', lib.usock_adopt(fd, 0, byref(a)), 0)
    ffd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    m = c_void_p()
    check('child usock_msg_new', lib.usock_msg_new(byref(m)), 0)
    check('child usock_msg_add_fd', lib.usock_msg_add_fd(m, ffd), 0)
    check('child usock_msg_set_creds',
          lib.usock_msg_set_creds(m, os.getpid(), os.getuid(), os.getgid()),
          0)
    check('child usock_send', lib.usock_send(a, PAYLOAD, len(PAYLOAD), m),
          len(PAYLOAD))
    lib.usock_msg_free(m)
    os.close(ffd)
    lib.usock_close(a)
    return 0


def main():
    sanitize = os.environ.get('USOCK_TEST_SANITIZE', 'none')
    if sanitize != 'none':
        print('SKIP: the library is built with -fsanitize=%s, whose runtime '
              'python would have to preload' % sanitize)
        return 77
    if sys.argv[1] == '--child':
        return child(load(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    why = elfident.cannot_load(sys.argv[1])
    if why:
        print('SKIP: ' + why)
        return 77
    lib = load(sys.argv[1])
    check('usock_version', lib.usock_version().decode(), sys.argv[2])
    before = open_fds()

    with tempfile.NamedTemporaryFile(prefix='usock-ffi.') as f:
        f.write(CONTENT)
        f.flush()

        a, b = c_void_p(), c_void_p()
        check('usock_pair',
              lib.usock_pair(USOCK_SEQPACKET, 0, byref(a), byref(b)), 0)
        # Before the child can send: credentials ride on every message
        # that arrives after this.
        check('usock_set_passcred', lib.usock_set_passcred(b, 1), 0)
        # fork and exec a second python that adopts its end: the fd is
        # close-on-exec like every fd the library makes, so it is passed
        # on purpose (pass_fds). A memory checker that traces this process
        # does not trace that one, whose interpreter never frees all.
        afd = lib.usock_get_fd(a)
        proc = subprocess.Popen([sys.executable, __file__, '--child',
                                 sys.argv[1], str(afd), f.name],
                                pass_fds=[afd])
        pid = proc.pid
        lib.usock_close(a)

        m = c_void_p()
        check('usock_msg_new', lib.usock_msg_new(byref(m)), 0)
        buf = ctypes.create_string_buffer(64)
        n = lib.usock_recv(b, buf, len(buf), m)
        check('usock_recv', n, len(PAYLOAD))
        check('payload', buf.raw[:n], PAYLOAD)
        check('usock_msg_get_nfds', lib.usock_msg_get_nfds(m), 1)
        fd = lib.usock_msg_take_fd(m, 0)
        if fd < 0:
            raise AssertionError('usock_msg_take_fd: %s' % os.strerror(-fd))
        check('FD_CLOEXEC on the received fd',
              fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC,
              fcntl.FD_CLOEXEC)
        check('content read through the received fd',
              os.pread(fd, 4096, 0), CONTENT)
        os.close(fd)

        rpid, ruid, rgid = c_int32(), c_uint32(), c_uint32()
        check('usock_msg_get_creds',
              lib.usock_msg_get_creds(m, byref(rpid), byref(ruid),
                                      byref(rgid)), 0)
        check('sender pid', rpid.value, pid)
        check('sender uid', ruid.value, os.getuid())
        check('sender gid', rgid.value, os.getgid())
        lib.usock_msg_free(m)
        lib.usock_close(b)

        check('child exit status', proc.wait(), 0)

    # An error is a negative errno, which Python names as it names its own.
    s = c_void_p()
    r = lib.usock_adopt(-1, 0, byref(s))
    check('usock_adopt(-1)', r, -errno.EBADF)
    check('os.strerror(-r)', os.strerror(-r), os.strerror(errno.EBADF))
    print('usock_adopt(-1, ...) = %d: %s (%s)' %
          (r, errno.errorcode[-r], os.strerror(-r)))

    check('open fds after the test', open_fds(), before)
    print('libusock %s from Python: fd, content and credentials of pid %d '
          'arrived' % (sys.argv[2], pid))
    return 0


if __name__ == '__main__':
    sys.exit(main())
