#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Install libusock and use it the ways a packager and a consumer do.

test/abi/meson.build runs one check per test:

  layout      `meson install` into a temporary DESTDIR puts there the
              library with its two symlinks, no RPATH or RUNPATH and no
              unused or unresolved dependency (ldd -u, ldd -r), the header,
              usock.pc, a man3 page for every function of lib/libusock.sym
              and man7/usock.7, each rendering with `man -l` without a
              warning
  consumer    test/abi/consumer/consumer.c, copied out of the tree, builds
              against that DESTDIR with nothing but `pkg-config --cflags
              --libs usock` and runs
  subproject  test/abi/consumer, copied out of the tree with
              subprojects/libusock linked to this tree, is set up with the
              fallback forced, built and its test run; libusock builds
              nothing for its tests there and registers none

A failure says what is wrong and makes the exit status 1; a missing tool
makes it 77 (a skip) with the reason.
"""

import argparse
import concurrent.futures
import filecmp
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
failures = []
skips = []


def fail(msg):
    failures.append(msg)
    print('FAIL: ' + msg)


def skip_part(reason):
    skips.append(reason)
    print('SKIP: ' + reason)


def run(cmd, quiet=False, **kw):
    p = subprocess.run(cmd, check=False, text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, **kw)
    if not quiet or p.returncode != 0:
        print('$ ' + shlex.join(cmd))
        if p.stdout.strip():
            print(p.stdout.rstrip())
    return p


def jobs_args(flag):
    """[flag, N] when the outer `meson test` runs N tests at once
    (MESON_TESTTHREADS): a nested build or test run takes no more."""
    n = os.environ.get('MESON_TESTTHREADS', '')
    return [flag, n] if n.isdigit() and int(n) > 0 else []


def exported(path):
    """The globals of the version script: the functions that need pages."""
    with open(path, encoding='utf-8') as f:
        src = re.sub(r'#[^\n]*', ' ', f.read())
    names = []
    for body in re.findall(r'\{(.*?)\}', src, re.S):
        m = re.search(r'global\s*:(.*?)(?:local\s*:|$)', body, re.S)
        if m:
            names += re.findall(r'(\w+)\s*;', m.group(1))
    return names


class Install:
    """A `meson install` of the build into a temporary DESTDIR."""

    def __init__(self, args, tmp):
        self.destdir = os.path.join(tmp, 'destdir')
        self.args = args

        def at(d):
            return os.path.join(args.prefix, d)
        self.prefix = self.destdir + args.prefix
        self.libdir = self.destdir + at(args.libdir)
        self.includedir = self.destdir + at(args.includedir)
        self.mandir = self.destdir + at(args.mandir)

    def run(self):
        p = run([self.args.meson, 'install', '-C', self.args.builddir,
                 '--no-rebuild', '--quiet', '--destdir', self.destdir],
                quiet=True)
        if p.returncode != 0:
            fail('meson install into %s failed' % self.destdir)
            return False
        return True


# ----------------------------------------------------------------- layout


def check_library(args, inst):
    real = 'libusock.so.' + args.version
    major = 'libusock.so.' + args.version.split('.')[0]
    lib = os.path.join(inst.libdir, real)
    if not os.path.isfile(lib) or os.path.islink(lib):
        fail('%s is not installed as a regular file' % lib)
        return None
    for link, target in ((major, real), ('libusock.so', major)):
        path = os.path.join(inst.libdir, link)
        if not os.path.islink(path):
            fail('%s is not a symlink' % path)
        elif os.readlink(path) != target:
            fail('%s points to %s, not %s' % (path, os.readlink(path),
                                                target))
    # libusock.a too with -Ddefault_library=both.
    others = sorted(set(f for f in os.listdir(inst.libdir)
                        if f.startswith('libusock')) -
                    {real, major, 'libusock.so', 'libusock.a'})
    if others:
        fail('%s holds more than the library and its two symlinks: %s' %
             (inst.libdir, ' '.join(others)))
    dyn = run([args.readelf, '-d', '-W', lib], quiet=True).stdout
    for tag in ('RPATH', 'RUNPATH'):
        m = re.search(r'\(%s\)\s+(.*)' % tag, dyn)
        if m:
            fail('%s has %s %s: an installed library must find its '
                 'dependencies through the system' % (lib, tag,
                                                      m.group(1).strip()))
    m = re.search(r'\(SONAME\)\s+Library soname: \[(.*)\]', dyn)
    if not m or m.group(1) != major:
        fail('%s has SONAME %s, not %s' % (lib, m and m.group(1), major))
    return lib


def check_linkage(args, lib):
    """--as-needed leaves no unused DT_NEEDED (ldd -u); -z defs leaves no
    symbol that the NEEDED libraries cannot resolve (ldd -r)."""
    if args.sanitize != 'none':
        print('not checking unused or undefined symbols: the library is '
              'built with -fsanitize=%s, whose runtime resolves them '
              '(-z defs is off)' % args.sanitize)
        return
    if args.no_run:
        skip_part('a cross build: ldd would run its loader, so the unused '
                  'and undefined symbol checks are left out')
        return
    if not args.ldd:
        skip_part('ldd was not found: the unused and undefined symbol '
                  'checks did not run')
        return
    # Two runs: with -u, ldd reports only the unused dependencies.
    p = run([args.ldd, '-u', lib], quiet=True)
    if 'Unused direct dependencies:' in p.stdout:
        for dep in p.stdout.split('Unused direct dependencies:', 1)[1].split():
            fail('%s needs %s but uses nothing from it: link with '
                 '-Wl,--as-needed' % (lib, dep))
    p = run([args.ldd, '-r', lib], quiet=True)
    if p.returncode != 0:
        fail('ldd -r cannot read %s' % lib)
    for sym in re.findall(r'undefined symbol: (\S+)', p.stdout):
        fail('%s leaves %s undefined: link with -Wl,-z,defs' % (lib, sym))


def check_pc(args, inst):
    pc = os.path.join(inst.libdir, 'pkgconfig', 'usock.pc')
    if not os.path.isfile(pc):
        fail('%s is not installed' % pc)
        return
    with open(pc, encoding='utf-8') as f:
        text = f.read()
    fields = dict(re.findall(r'^([\w.]+)\s*[:=]\s*(.*)$', text, re.M))
    if fields.get('Version') != args.version:
        fail('%s says Version %s, not %s' % (pc, fields.get('Version'),
                                             args.version))
    if fields.get('prefix') != args.prefix:
        fail('%s says prefix=%s, not %s' % (pc, fields.get('prefix'),
                                            args.prefix))
    if '-lusock' not in fields.get('Libs', '').split():
        fail('%s: Libs lacks -lusock' % pc)


def check_man(args, inst):
    names = exported(args.map)
    want = {os.path.join('man3', n + '.3') for n in names}
    want.add(os.path.join('man7', 'usock.7'))
    have = set()
    for root, _, files in os.walk(inst.mandir):
        for f in files:
            have.add(os.path.relpath(os.path.join(root, f), inst.mandir))
    for page in sorted(want - have):
        fail('%s is not installed in %s' % (page, inst.mandir))
    for page in sorted(have - want):
        fail('%s is installed but documents no exported function' % page)
    if not args.man_cmd:
        skip_part('man was not found (Debian: apt-get install man-db): the '
                  'pages were not rendered')
        return
    # From the man directory, as man(1) itself does, so that an alias
    # page's `.so man3/page.3` resolves.
    env = dict(os.environ, MANWIDTH='80', MANPAGER='cat', PAGER='cat',
               LC_ALL='C.UTF-8', MAN_DISABLE_SECCOMP='1')

    def render(page):
        return page, subprocess.run(
            [args.man_cmd, '--warnings=w', '-l', page], cwd=inst.mandir,
            env=env, check=False, text=True, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for page, p in pool.map(render, sorted(want & have)):
            if p.returncode != 0 or p.stderr.strip():
                fail('man -l %s: status %d, %s' % (page, p.returncode,
                                                   p.stderr.strip()))
            elif not p.stdout.strip():
                fail('man -l %s renders nothing' % page)
    print('%d pages render without a warning' % len(want & have))


def layout(args, tmp):
    inst = Install(args, tmp)
    if not inst.run():
        return
    if not args.readelf:
        skip_part('readelf was not found (Debian: apt-get install binutils)')
        return
    lib = check_library(args, inst)
    if lib:
        check_linkage(args, lib)
    header = os.path.join(inst.includedir, 'usock.h')
    if not os.path.isfile(header):
        fail('%s is not installed' % header)
    elif not filecmp.cmp(header, args.header, shallow=False):
        fail('%s differs from %s' % (header, args.header))
    check_pc(args, inst)
    if args.man:
        check_man(args, inst)
    else:
        print('not checking man pages: built with -Dman=false')


# --------------------------------------------------------------- consumer


def consumer(args, tmp):
    if not args.pkg_config:
        skip_part('pkg-config was not found (Debian: apt-get install '
                  'pkg-config)')
        return
    inst = Install(args, tmp)
    if not inst.run():
        return
    outside = os.path.join(tmp, 'consumer')
    os.mkdir(outside)
    src = shutil.copy(os.path.join(args.consumer, 'consumer.c'), outside)
    # Only the DESTDIR's usock.pc, its paths moved into the DESTDIR.
    env = dict(os.environ,
               PKG_CONFIG_LIBDIR=os.path.join(inst.libdir, 'pkgconfig'),
               PKG_CONFIG_SYSROOT_DIR=inst.destdir)
    env.pop('PKG_CONFIG_PATH', None)
    p = run([args.pkg_config, '--cflags', '--libs', 'usock'], env=env)
    if p.returncode != 0:
        fail('pkg-config does not find usock in %s' % inst.destdir)
        return
    flags = shlex.split(p.stdout)
    v = run([args.pkg_config, '--modversion', 'usock'], env=env,
            quiet=True).stdout.strip()
    if v != args.version:
        fail('pkg-config --modversion usock says %s, not %s' %
             (v, args.version))
    exe = os.path.join(outside, 'consumer')
    cmd = shlex.split(args.cc) + shlex.split(args.extra) + \
        ['-o', exe, src] + flags
    if run(cmd, cwd=outside).returncode != 0:
        fail('the consumer does not build with `pkg-config --cflags --libs '
             'usock` alone')
        return
    if args.no_run:
        skip_part('the consumer built against %s; not run: a cross build' %
                  inst.destdir)
        return
    runenv = dict(os.environ, LD_LIBRARY_PATH=inst.libdir)
    if args.ldd:
        p = run([args.ldd, exe], env=runenv, quiet=True)
        m = re.search(r'libusock\.so\.\d+ => (\S+)', p.stdout)
        if not m or not os.path.realpath(m.group(1)).startswith(
                os.path.realpath(inst.libdir) + os.sep):
            fail('the consumer does not load libusock from %s:\n%s' %
                 (inst.libdir, p.stdout))
    if run([exe, args.version], cwd=outside, env=runenv).returncode != 0:
        fail('the consumer built against %s fails' % inst.destdir)


# ------------------------------------------------------------- subproject


def subproject(args, tmp):
    proj = os.path.join(tmp, 'consumer')
    shutil.copytree(args.consumer, proj)
    os.mkdir(os.path.join(proj, 'subprojects'))
    os.symlink(args.source_root, os.path.join(proj, 'subprojects',
                                              'libusock'))
    build = os.path.join(proj, 'build')
    # The parent's meson test environment must not leak into this build,
    # but for how many jobs it may run at once.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith('MESON') or k == 'MESON_TESTTHREADS'}
    setup = [args.meson, 'setup', '--force-fallback-for=usock', build, proj]
    if run(setup, env=env, quiet=True).returncode != 0:
        fail('a project with libusock as a subproject does not set up')
        return
    p = run([args.meson, 'compile', '-C', build] + jobs_args('-j'),
            env=env, quiet=True)
    if p.returncode == 0:
        p = run([args.meson, 'test', '-C', build, '--no-rebuild',
                 '--print-errorlogs'] + jobs_args('--num-processes'),
                env=env, quiet=True)
    if p.returncode != 0:
        fail('a project with libusock as a subproject does not build or '
             'its test fails')
        return
    # As a subproject libusock builds nothing that only its tests need,
    # and registers no test in its parent.
    p = run([args.meson, 'test', '-C', build, '--no-rebuild', '--list'],
            env=env, quiet=True)
    tests = [t for t in p.stdout.split('\n') if t.strip()]
    if tests != ['consumer']:
        fail('the consumer project has other tests than its own: %s' %
             ', '.join(tests))
    inner = os.path.join(build, 'subprojects', 'libusock')
    for d in ('test', os.path.join('man', 'examples')):
        if os.path.exists(os.path.join(inner, d)):
            fail('libusock as a subproject built %s/' % d)
    if not failures:
        print('the consumer project built libusock as a subproject, with '
              'nothing of its tests, and its test passed')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('what', choices=['layout', 'consumer', 'subproject'])
    ap.add_argument('--meson', required=True)
    ap.add_argument('--builddir', required=True)
    ap.add_argument('--source-root', required=True)
    ap.add_argument('--prefix', required=True)
    ap.add_argument('--libdir', required=True)
    ap.add_argument('--includedir', required=True)
    ap.add_argument('--mandir', required=True)
    ap.add_argument('--version', required=True)
    ap.add_argument('--map', required=True)
    ap.add_argument('--header', required=True)
    ap.add_argument('--consumer', required=True)
    ap.add_argument('--man', action='store_true')
    ap.add_argument('--sanitize', default='none')
    ap.add_argument('--cc', default='')
    ap.add_argument('--extra', default='')
    ap.add_argument('--readelf', default='')
    ap.add_argument('--ldd', default='')
    ap.add_argument('--man-cmd', default='')
    ap.add_argument('--pkg-config', default='')
    ap.add_argument('--no-run', action='store_true',
                    help="a cross build: run none of the build's programs")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix='usock-%s.' % args.what) as tmp:
        {'layout': layout, 'consumer': consumer,
         'subproject': subproject}[args.what](args, tmp)
    if failures:
        return 1
    if skips:
        return SKIP
    print('ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
