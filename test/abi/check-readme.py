#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run the README's examples against the built library, as printed.

  check-readme.py python README LIBDIR
  check-readme.py c README LIBDIR INCLUDEDIR 'CC' 'EXTRA' [--no-run]

python: the indented blocks of the "From Python" part of "Using it",
joined, are run by this python with LD_LIBRARY_PATH=LIBDIR, so that
CDLL('libusock.so.1') finds the built library; they must print what the
README says they print: `2 2`.

c: the program of the "Example" section (the indented lines from its
`#include` to the end of that block) is compiled with the build's compiler
CC as the README tells a reader to, `-Wall -Werror` and the flags that
`pkg-config --cflags --libs usock` gives (-I INCLUDEDIR -L LIBDIR -lusock),
plus EXTRA (the build's -fsanitize, whose runtime must come first), and run
with LD_LIBRARY_PATH=LIBDIR. It must print the payload it wrote through the
fd it received, then "from pid PID uid UID" with its own pid and uid: the
credentials line appears only when usock_set_passcred() came before the
send.

An example that no longer compiles or runs fails here, not in a reader's
hands. Exit 77 (a skip) for the Python lines under a sanitized library,
and for a library this python cannot load (a cross build), as test-ffi.py
does; with --no-run (a cross build) the C example is compiled and linked,
not run.
"""

import os
import re
import shlex
import subprocess
import sys
import tempfile

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
import elfident  # noqa: E402  (shared with test-ffi.py)

PYTHON_PRINTS = '2 2\n'
C_PRINTS = 'hello through the received fd\nfrom pid {pid} uid {uid}\n'


def section(readme, title):
    with open(readme, encoding='utf-8') as f:
        text = f.read()
    m = re.search(r'^%s\n-+\n(.*?)(?=^\S[^\n]*\n-+\n|\Z)' % re.escape(title),
                  text, re.M | re.S)
    return m.group(1) if m else None


def indented(lines):
    return '\n'.join(line[4:] for line in lines if line.startswith('    '))


def python(readme, libdir):
    if os.environ.get('USOCK_TEST_SANITIZE', 'none') != 'none':
        print('SKIP: the library is built with -fsanitize=%s, whose runtime '
              'python would have to preload' %
              os.environ['USOCK_TEST_SANITIZE'])
        return 77
    why = elfident.cannot_load(os.path.join(libdir, 'libusock.so.1'))
    if why:
        print('SKIP: ' + why)
        return 77
    text = section(readme, 'Using it')
    start = text.find('From Python') if text is not None else -1
    if start < 0:
        print('FAIL: %s has no "From Python" part in "Using it"' % readme)
        return 1
    code = indented(text[start:].split('\n'))
    print(code)
    env = dict(os.environ, LD_LIBRARY_PATH=libdir)
    p = subprocess.run([sys.executable, '-c', code], env=env, check=False,
                       text=True, stdout=subprocess.PIPE)
    print('--- prints:\n' + p.stdout, end='')
    if p.returncode != 0 or p.stdout != PYTHON_PRINTS:
        print('FAIL: the README\'s Python exits %d and prints %r, not %r' %
              (p.returncode, p.stdout, PYTHON_PRINTS))
        return 1
    return 0


def program(text):
    """The indented block that begins with #include, blank lines kept."""
    lines = text.split('\n')
    for i, line in enumerate(lines):
        if line.startswith('    #include'):
            break
    else:
        return None
    block = []
    for line in lines[i:]:
        if line.strip() and not line.startswith('    '):
            break
        block.append(line)
    return '\n'.join(line[4:] for line in block).strip('\n') + '\n'


def c(readme, libdir, includedir, cc, extra, no_run):
    text = section(readme, 'Example')
    source = program(text) if text is not None else None
    if source is None:
        print('FAIL: %s has no "Example" section with a program that '
              'begins with #include' % readme)
        return 1
    print(source, end='')
    with tempfile.TemporaryDirectory(prefix='usock-readme.') as tmp:
        src = os.path.join(tmp, 'prog.c')
        exe = os.path.join(tmp, 'prog')
        with open(src, 'w', encoding='utf-8') as f:
            f.write(source)
        cmd = shlex.split(cc) + ['-Wall', '-Werror'] + shlex.split(extra) + \
            ['-o', exe, src, '-I' + includedir, '-L' + libdir, '-lusock']
        print('$ ' + shlex.join(cmd))
        if subprocess.run(cmd, check=False).returncode != 0:
            print('FAIL: the README\'s example does not compile as printed')
            return 1
        if no_run:
            print('SKIP: the example compiles and links; a cross build\'s '
                  'program cannot run here')
            return 77
        env = dict(os.environ, LD_LIBRARY_PATH=libdir)
        p = subprocess.Popen([exe], env=env, text=True,
                             stdout=subprocess.PIPE)
        out, _ = p.communicate(timeout=30)
    want = C_PRINTS.format(pid=p.pid, uid=os.getuid())
    print('--- prints:\n' + out, end='')
    if p.returncode != 0 or out != want:
        print('FAIL: the README\'s example exits %d and prints %r, not %r' %
              (p.returncode, out, want))
        return 1
    return 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == 'python':
        return python(*sys.argv[2:])
    args = sys.argv[2:]
    no_run = args[-1:] == ['--no-run']
    if no_run:
        args = args[:-1]
    if len(args) == 5 and sys.argv[1] == 'c':
        return c(*args, no_run)
    print(__doc__.split('\n\n')[1], file=sys.stderr)
    return 2


if __name__ == '__main__':
    sys.exit(main())
