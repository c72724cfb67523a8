#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Build libusock twice, in two different directories, and compare.

  check-repro.py --meson MESON [--git] SOURCE

Puts two copies of SOURCE at paths of different names and depths, sets up
and builds each in its own build/ with the project's default options, and
requires byte-identical libusock.so.<version> files. With --git the copies
are `git clone`s of SOURCE's HEAD (CI: two clean builds of one commit);
without, the working tree is copied, build directories and .git left out
(meson test, which also runs in the dist tarball). On a difference it names
the sections that differ and any build path that leaked into the binary.
"""

import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile


def run(cmd, **kw):
    p = subprocess.run(cmd, check=False, text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, **kw)
    if p.returncode != 0:
        print('$ ' + shlex.join(cmd))
        print(p.stdout.rstrip())
    return p.returncode == 0


def is_build_dir(path):
    return os.path.isdir(os.path.join(path, 'meson-private'))


def copy_tree(src, dst):
    def ignore(d, names):
        return [n for n in names
                if n == '.git' or is_build_dir(os.path.join(d, n))]
    shutil.copytree(src, dst, symlinks=True, ignore=ignore)


def jobs_args():
    """['-j', N] when the outer `meson test` runs N tests at once
    (MESON_TESTTHREADS): the nested builds take no more."""
    n = os.environ.get('MESON_TESTTHREADS', '')
    return ['-j', n] if n.isdigit() and int(n) > 0 else []


def build(args, src, dst):
    if args.git:
        ok = run(['git', 'clone', '--quiet', src, dst])
    else:
        copy_tree(src, dst)
        ok = True
    # The build directory sits at the same place in both copies, as
    # packagers' does; everything above it differs.
    ok = ok and run([args.meson, 'setup', '-Dtests=disabled', '-Dman=false',
                     'build'], cwd=dst)
    ok = ok and run([args.meson, 'compile', '-C', 'build'] + jobs_args(),
                    cwd=dst)
    if not ok:
        return None
    libs = [p for p in glob.glob(os.path.join(dst, 'build', 'lib',
                                              'libusock.so.*.*.*'))
            if os.path.isfile(p) and not os.path.islink(p)]
    if len(libs) != 1:
        print('FAIL: no single libusock.so.X.Y.Z in %s/build/lib' % dst)
        return None
    return libs[0]


def sections(path):
    """name -> (offset, size) of each section that occupies the file."""
    out = subprocess.run(['readelf', '-S', '-W', path], check=False,
                         text=True, stdout=subprocess.PIPE).stdout
    secs = {}
    for m in re.finditer(r'^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+'
                         r'([0-9a-f]+)\s+([0-9a-f]+)', out, re.M):
        if m.group(2) != 'NOBITS':
            secs[m.group(1)] = (int(m.group(3), 16), int(m.group(4), 16))
    return secs


def explain(a, b, dirs):
    with open(a, 'rb') as f:
        da = f.read()
    with open(b, 'rb') as f:
        db = f.read()
    if len(da) != len(db):
        print('sizes differ: %d and %d bytes' % (len(da), len(db)))
    sa = sections(a)
    for name, (off, size) in sa.items():
        if da[off:off + size] != db[off:off + size]:
            print('section %s differs' % name)
    for d, data in zip(dirs, (da, db)):
        for part in (d, os.path.dirname(d)):
            if part.encode() in data:
                print('the build path %s is in %s' % (part, a if data is da
                                                      else b))
                break


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--meson', required=True)
    ap.add_argument('--git', action='store_true')
    ap.add_argument('source')
    args = ap.parse_args()
    src = os.path.abspath(args.source)

    with tempfile.TemporaryDirectory(prefix='usock-repro.') as tmp:
        dirs = [os.path.join(tmp, 'a', 'libusock'),
                os.path.join(tmp, 'second', 'nested', 'usock-src')]
        libs = []
        for d in dirs:
            os.makedirs(os.path.dirname(d))
            lib = build(args, src, d)
            if lib is None:
                print('FAIL: the build in %s failed' % d)
                return 1
            libs.append(lib)
        print('built %s\n  and %s' % tuple(libs))
        with open(libs[0], 'rb') as f0, open(libs[1], 'rb') as f1:
            same = f0.read() == f1.read()
        if not same:
            print('FAIL: the two builds of %s differ' %
                  os.path.basename(libs[0]))
            explain(libs[0], libs[1], dirs)
            return 1
    print('%s is byte-identical across the two build directories' %
          os.path.basename(libs[0]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
