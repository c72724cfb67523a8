# SPDX-License-Identifier: MIT
"""What kind of ELF a file is, and whether this Python can load it.

A cross build (i386, armhf, s390x on an x86-64 machine) makes a library
that the host's python3 cannot dlopen: ctypes would fail with "wrong ELF
class" or "cannot open shared object". The tests that load libusock into
the interpreter ask cannot_load() first and skip (77) with its reason.
"""

import os
import struct
import sys

# e_machine values of the architectures Debian builds (elf.h).
MACHINES = {
    3: 'i386', 8: 'mips', 20: 'ppc', 21: 'ppc64', 22: 's390x', 40: 'arm',
    62: 'x86-64', 183: 'aarch64', 243: 'riscv', 258: 'loongarch',
}


def ident(path):
    """(class, byte order, machine) of the ELF file at path, as words:
    ('32-bit', 'big-endian', 's390x'); None if it is no ELF file."""
    with open(path, 'rb') as f:
        head = f.read(20)
    if len(head) < 20 or head[:4] != b'\x7fELF' or head[4] not in (1, 2) \
            or head[5] not in (1, 2):
        return None
    order = '<' if head[5] == 1 else '>'
    machine = struct.unpack(order + 'H', head[18:20])[0]
    return ('32-bit' if head[4] == 1 else '64-bit',
            'little-endian' if head[5] == 1 else 'big-endian',
            MACHINES.get(machine, 'machine %d' % machine))


def cannot_load(lib):
    """Why this interpreter cannot load lib, or None if it can."""
    exe = os.path.realpath(sys.executable)
    want, have = ident(exe), ident(lib)
    if want is None or have is None:
        return None     # not ELF: let the loader say what is wrong
    if want != have:
        return ('%s is %s, but this python (%s) is %s: a cross build, '
                'which this interpreter cannot load' %
                (lib, ' '.join(have), exe, ' '.join(want)))
    return None
