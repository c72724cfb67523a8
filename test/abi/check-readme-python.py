#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run the README's "From Python" lines against the built library.

  check-readme-python.py README LIBDIR

The indented blocks of that section, joined, are run by this python with
LD_LIBRARY_PATH=LIBDIR, so that CDLL('libusock.so.1') finds the built
library; they must print what the README says they print: `2 2`, then
`Invalid argument`. An example that no longer runs fails here, not in a
reader's hands. Exit 77 (a skip) for a sanitized library, and for one this
python cannot load (a cross build), as test-ffi.py.
"""

import os
import re
import subprocess
import sys

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
import elfident  # noqa: E402  (shared with test-ffi.py)

EXPECTED = '2 2\nInvalid argument\n'


def section(readme, title):
    with open(readme, encoding='utf-8') as f:
        text = f.read()
    m = re.search(r'^%s\n-+\n(.*?)(?=^\S[^\n]*\n-+\n|\Z)' % re.escape(title),
                  text, re.M | re.S)
    return m.group(1) if m else None


def main():
    readme, libdir = sys.argv[1], sys.argv[2]
    sanitize = os.environ.get('USOCK_TEST_SANITIZE', 'none')
    if sanitize != 'none':
        print('SKIP: the library is built with -fsanitize=%s, whose runtime '
              'python would have to preload' % sanitize)
        return 77
    why = elfident.cannot_load(os.path.join(libdir, 'libusock.so.1'))
    if why:
        print('SKIP: ' + why)
        return 77
    text = section(readme, 'From Python')
    if text is None:
        print('FAIL: %s has no "From Python" section' % readme)
        return 1
    code = '\n'.join(line[4:] for line in text.split('\n')
                     if line.startswith('    '))
    print(code)
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    p = subprocess.run([sys.executable, '-c', code], env=env, check=False,
                       text=True, stdout=subprocess.PIPE)
    print('--- prints:\n' + p.stdout, end='')
    if p.returncode != 0 or p.stdout != EXPECTED:
        print('FAIL: the README\'s Python exits %d and prints %r, not %r' %
              (p.returncode, p.stdout, EXPECTED))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
