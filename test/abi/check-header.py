#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compile include/usock.h on its own, the way a consumer first meets it.

  check-header.py --std c99 --cc 'CC' --include DIR
  check-header.py --std c++11 --cc 'CXX' --include DIR [--libdir DIR]
                  [--no-run]

The translation unit includes usock.h first, twice (the guard), with no
feature macro defined, under -std=STD -pedantic -Werror and the warnings
that a careful consumer enables. For C++ it is also linked against the
built library and run: that proves the extern "C" block, since C++ linkage
would look for mangled names (--no-run, for a cross build: linked only).
Exit 77 (a skip) when the compiler is missing.
"""

import argparse
import os
import shlex
import subprocess
import sys
import tempfile

C_WARNINGS = ['-Wall', '-Wextra', '-Wstrict-prototypes',
              '-Wmissing-prototypes', '-Wold-style-definition', '-Wundef',
              '-Wshadow', '-Wcast-qual', '-Wredundant-decls']
CXX_WARNINGS = ['-Wall', '-Wextra', '-Wundef', '-Wshadow', '-Wcast-qual',
                '-Wredundant-decls', '-Wold-style-cast',
                '-Wzero-as-null-pointer-constant']

# Uses every type that the prototypes need, so that a type the header
# got only through a feature macro fails here, not in a consumer.
SOURCE = '''\
#include <usock.h>
#include <usock.h>

int main(void)
{
	struct usock_msg *m;
	struct iovec iov;
	ssize_t n = -1;
	int32_t pid = 0;
	uint32_t uid = 0;
	size_t len = sizeof(iov.iov_base) + sizeof(n) + sizeof(pid) +
		     sizeof(uid);

	if (usock_msg_new(&m) < 0)
		return 1;
	usock_msg_free(m);
	return len == 0 || usock_version()[0] == '\\0';
}
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--std', required=True)
    ap.add_argument('--cc', required=True,
                    help='the compiler command, shell-quoted')
    ap.add_argument('--include', required=True)
    ap.add_argument('--libdir', default='',
                    help='link against libusock there and run the program')
    ap.add_argument('--no-run', action='store_true',
                    help='link but do not run (a cross build)')
    ap.add_argument('--extra', default='',
                    help='more flags, shell-quoted (e.g. -fsanitize=...)')
    args = ap.parse_args()

    cc = shlex.split(args.cc)
    if not cc:
        print('SKIP: no compiler for %s was found (Debian: apt-get install '
              '%s)' % (args.std, 'g++' if '++' in args.std else 'gcc'))
        return 77
    cxx = '++' in args.std
    flags = ['-std=' + args.std, '-pedantic', '-Werror', '-I', args.include]
    flags += CXX_WARNINGS if cxx else C_WARNINGS
    flags += shlex.split(args.extra)
    with tempfile.TemporaryDirectory(prefix='usock-header.') as tmp:
        src = os.path.join(tmp, 'tu.cc' if cxx else 'tu.c')
        with open(src, 'w', encoding='utf-8') as f:
            f.write(SOURCE)
        out = os.path.join(tmp, 'tu')
        cmd = cc + flags + ['-c', '-o', out + '.o', src]
        print('$ ' + shlex.join(cmd))
        if subprocess.run(cmd, check=False).returncode != 0:
            print('FAIL: usock.h does not compile on its own as %s' %
                  args.std)
            return 1
        if args.libdir:
            cmd = cc + shlex.split(args.extra) + \
                ['-o', out, out + '.o', '-L', args.libdir, '-lusock']
            print('$ ' + shlex.join(cmd))
            if subprocess.run(cmd, check=False).returncode != 0:
                print('FAIL: a %s program does not link against libusock: '
                      'are the declarations inside extern "C"?' % args.std)
                return 1
            if args.no_run:
                print('usock.h compiles on its own as %s and links; not run: '
                      'a cross build' % args.std)
                return 0
            env = dict(os.environ, LD_LIBRARY_PATH=args.libdir)
            p = subprocess.run([out], env=env, check=False)
            if p.returncode != 0:
                print('FAIL: the %s program linked against libusock exited '
                      'with %d' % (args.std, p.returncode))
                return 1
    print('usock.h compiles on its own as %s%s' %
          (args.std, ', links and runs' if args.libdir else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
