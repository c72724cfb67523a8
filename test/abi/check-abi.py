#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check what libusock exports against the header and the version script.

test/abi/meson.build runs one check per test:

  exports   the functions of include/usock.h are exactly the globals of
            lib/libusock.sym, all usock_*; and the dynamic symbols that
            libusock.so.1 defines (nm -D --defined-only) are exactly those,
            each with the default version of the node that lists it
            (name@@LIBUSOCK_x.y). Without nm only the sources are compared
            (and the test is a skip)
  archive   an archive of the library's objects defines no global symbol
            outside usock_*: a static link cannot clash with the program
            (the compiler's own helpers, COMPILER_HELPER_RE, aside)
  version   the nodes of the map are LIBUSOCK_<major>.<minor>, ascending,
            each inheriting the one before; the newest is the project's
            major.minor, and the header's USOCK_VERSION_* macros are the
            project's version (libbpf checks its map the same way)
  baseline  abidiff finds no incompatible change between the committed ABI
            of the released library and the built one: a new function in
            a new node passes; a removed or changed function or type, or a
            function added to a released node, fails (exit 77, a skip, when
            abidiff is missing, the library has no debug information or is
            built for another architecture than the baseline's, x86-64).
            The header's numeric constants, which abidiff cannot see, are
            compared with the committed list the same way, everywhere.
  update    write both baselines (abidw): `meson compile -C BUILD abi-baseline`

A failure names the symbol at fault and makes the exit status 1. The
header and the version script are read by usock_api.py, as
man/check-man.py reads them.
"""

import argparse
import os
import re
import subprocess
import sys

# No __pycache__ in the source tree.
sys.dont_write_bytecode = True
import usock_api  # noqa: E402  (the parser that man/check-man.py uses too)

SKIP = 77
PREFIX = 'usock_'
NODE_RE = re.compile(r'^LIBUSOCK_(\d+)\.(\d+)$')
# Helpers the compiler emits into objects, not the library's own names: gcc
# loads the PC into a register through __x86.get_pc_thunk.<reg> for i386
# position-independent code. Each is a hidden global in a COMDAT group, so
# the linker keeps one copy of all the identical ones a program brings, and
# its '.' makes it a name no C program can declare: it cannot clash.
COMPILER_HELPER_RE = re.compile(r'^__(x86|i686)\.get_pc_thunk\.\w+$')

failures = []


def fail(msg):
    failures.append(msg)
    print('FAIL: ' + msg)


def skip(reason):
    print('SKIP: ' + reason)
    sys.exit(1 if failures else SKIP)


def run(cmd, **kw):
    return subprocess.run(cmd, check=False, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          **kw)


# ---------------------------------------------------------------- sources


def header(path):
    """The header as usock_api reads it; what it cannot read fails."""
    h = usock_api.Header(path)
    for problem in h.problems:
        fail(problem)
    return h


def version_script(path):
    vs = usock_api.VersionScript(path)
    for problem in vs.problems:
        fail(problem)
    return vs


def nm_symbols(nm, args, path):
    """(type, name) of each symbol that `nm ARGS PATH` prints."""
    p = run([nm] + args + [path])
    if p.returncode != 0:
        fail('%s %s failed:\n%s' % (nm, path, p.stdout))
        return []
    syms = []
    for line in p.stdout.splitlines():
        fields = line.split()
        if len(fields) == 3:
            syms.append((fields[1], fields[2]))
        elif len(fields) == 2 and not line.endswith(':'):
            syms.append((fields[0], fields[1]))
    return syms


# ----------------------------------------------------------------- checks


def check_exports(args):
    vs = version_script(args.map)
    where = vs.where
    declared = header(args.header).functions
    # The sources first: they are compared whether or not nm is there.
    for name, node in where.items():
        if not name.startswith(PREFIX):
            fail('%s lists %s (in %s), which does not start with %s' %
                 (args.map, name, node, PREFIX))
        if name not in declared:
            fail('%s lists %s (in %s), which %s does not declare' %
                 (args.map, name, node, args.header))
    for name in declared:
        if name not in where:
            fail('%s declares %s, which %s does not list' %
                 (args.header, name, args.map))
    if not args.nm:
        skip('nm was not found (Debian: apt-get install binutils): the '
             'header was compared with the version script, the library is '
             'not checked')
    if not os.path.exists(args.lib):
        fail('%s does not exist' % args.lib)
        return
    node_names = {n.name for n in vs.nodes}
    exported = {}
    for kind, sym in nm_symbols(args.nm, ['-D', '--defined-only'], args.lib):
        if kind == 'A' and sym in node_names:
            continue    # the version definition itself
        name, sep, version = sym.partition('@')
        hidden = sep and not version.startswith('@')
        version = version.lstrip('@')
        if name in exported:
            fail('%s exports %s twice (%s)' % (args.lib, name, sym))
        exported[name] = version
        if not name.startswith(PREFIX):
            fail('%s exports %s, which does not start with %s' %
                 (args.lib, sym, PREFIX))
        if kind != 'T':
            fail('%s exports %s as nm type %s, not a function (T): the ABI '
                 'is functions only' % (args.lib, sym, kind))
        if not version:
            fail('%s exports %s unversioned: it must be %s@@%s' %
                 (args.lib, name, name, where.get(name, 'LIBUSOCK_x.y')))
        elif hidden:
            fail('%s exports %s, a non-default version (@, not @@)' %
                 (args.lib, sym))
        elif name in where and version != where[name]:
            fail('%s exports %s@@%s, but %s lists it in %s' %
                 (args.lib, name, version, args.map, where[name]))
        if name not in where:
            fail('%s exports %s, which %s does not list' %
                 (args.lib, sym, args.map))
        if name not in declared:
            fail('%s exports %s, which %s does not declare' %
                 (args.lib, sym, args.header))
    for name, node in where.items():
        if name not in exported:
            fail('%s lists %s (in %s), which %s does not export (no '
                 'definition, or no USOCK_EXPORT on it)' %
                 (args.map, name, node, args.lib))
    for name in declared:
        if name not in exported:
            fail('%s declares %s, which %s does not export' %
                 (args.header, name, args.lib))
    if not failures:
        print('%d functions exported, each declared, listed and versioned '
              '(%s)' % (len(exported), ', '.join(n.name for n in vs.nodes)))


def check_archive(args):
    if not args.nm:
        skip('nm was not found (Debian: apt-get install binutils)')
    if not os.path.exists(args.archive):
        fail('%s does not exist' % args.archive)
        return
    syms = nm_symbols(args.nm, ['-g', '--defined-only'], args.archive)
    helpers = {name for _, name in syms if COMPILER_HELPER_RE.match(name)}
    syms = [(kind, name) for kind, name in syms if name not in helpers]
    if not syms:
        fail('%s defines no global symbol at all' % args.archive)
    for kind, name in syms:
        if not name.startswith(PREFIX):
            fail('%s defines the global symbol %s (nm type %s): make it '
                 'static or name it %s*' % (args.archive, name, kind, PREFIX))
    if not failures:
        print('%d global symbols, all %s*%s' % (
            len(syms), PREFIX, '; compiler helpers left aside: ' +
            ' '.join(sorted(helpers)) if helpers else ''))


def check_version(args):
    m = re.match(r'^(\d+)\.(\d+)\.(\d+)$', args.project_version)
    if not m:
        fail('the project version %s is not MAJOR.MINOR.MICRO' %
             args.project_version)
        return
    project = tuple(int(x) for x in m.groups())
    nodes = version_script(args.map).nodes
    prev = None
    for node in nodes:
        nm = NODE_RE.match(node.name)
        if not nm:
            fail('%s: the node %s is not named LIBUSOCK_<major>.<minor>' %
                 (args.map, node.name))
            return
        version = (int(nm.group(1)), int(nm.group(2)))
        if prev is None:
            if node.parent:
                fail('%s: the first node %s inherits %s' %
                     (args.map, node.name, node.parent))
        else:
            if version <= prev[1]:
                fail('%s: the node %s comes after %s but is not newer' %
                     (args.map, node.name, prev[0]))
            if node.parent != prev[0]:
                fail('%s: the node %s must inherit %s (write "} %s;")' %
                     (args.map, node.name, prev[0], prev[0]))
        prev = (node.name, version)
    want = 'LIBUSOCK_%d.%d' % project[:2]
    if prev and prev[0] != want:
        fail('%s: the newest node is %s, but the project version %s needs '
             '%s: a release adds its node (inheriting %s)' %
             (args.map, prev[0], args.project_version, want, prev[0]))
    macros = header(args.header).version
    if macros and macros != project:
        fail('%s: USOCK_VERSION_MAJOR/MINOR/MICRO say %d.%d.%d, but the '
             'project version is %s' %
             ((args.header,) + macros + (args.project_version,)))
    if not failures:
        print('newest node %s, header and project at %s' %
              (want, args.project_version))


def has_debug_info(readelf, lib):
    p = run([readelf, '-S', '-W', lib])
    return re.search(r'\s\.debug_info\s', p.stdout) is not None


def read_constants(path):
    consts = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].split()
            if len(line) == 2:
                consts[line[0]] = int(line[1], 0)
    return consts


def check_constants(args):
    """abidiff cannot see macros, yet a flag's value is as much ABI as a
    prototype: a constant may be added, never removed or changed."""
    old = read_constants(args.constants)
    new = header(args.header).constants
    for name, value in old.items():
        if name not in new:
            fail('%s no longer defines %s (%s in %s)' %
                 (args.header, name, value, args.constants))
        elif new[name][0] != value:
            fail('%s changed %s from %s to %s' %
                 (args.header, name, value, new[name][1]))
    added = sorted(set(new) - set(old))
    print('%d constants as released%s' % (
        len(old), ', added: ' + ' '.join(added) if added else ''))


def baseline_nodes(path):
    with open(path, encoding='utf-8') as f:
        return set(re.findall(r"<elf-symbol [^>]*?\sversion='([^']+)'",
                              f.read()))


ARCH_RE = re.compile(r"<abi-corpus [^>]*?\barchitecture='([^']+)'")


def abi_architecture(text):
    m = ARCH_RE.search(text)
    return m.group(1) if m else None


def check_baseline(args):
    if not os.path.exists(args.lib):
        fail('%s does not exist' % args.lib)
        return
    # The constants come from the header's text: the same on every
    # architecture, so they are compared everywhere.
    check_constants(args)
    if not args.abidiff or not args.abidw:
        skip('abidiff or abidw was not found (Debian: apt-get install '
             'abigail-tools)')
    if not args.readelf:
        skip('readelf was not found (Debian: apt-get install binutils)')
    if not has_debug_info(args.readelf, args.lib):
        skip('%s has no debug information, which abidiff needs: build '
             'with -g (buildtype debug or debugoptimized)' % args.lib)
    # The baseline is one architecture's (x86-64's): elsewhere every
    # function "changes" its address size, and nothing is learnt. The
    # prototypes use only fixed-size integers, size_t, ssize_t and opaque
    # pointers, so a change to them shows on x86-64 as well.
    with open(args.baseline, encoding='utf-8') as f:
        want = abi_architecture(f.read())
    p = run([args.abidw, '--no-corpus-path', '--no-show-locs', args.lib])
    have = abi_architecture(p.stdout)
    if p.returncode != 0 or not have:
        fail('abidw cannot read %s (status %d)' % (args.lib, p.returncode))
        return
    if want != have:
        skip('%s is %s\'s ABI, %s is %s: abidiff compares only the same '
             'architecture (the constants were compared)' %
             (os.path.basename(args.baseline), want, args.lib, have))
    cmd = [args.abidiff, '--headers-dir2', args.headers_dir,
           '--drop-private-types', '--no-unreferenced-symbols',
           args.baseline, args.lib]
    p = run(cmd)
    print('$ ' + ' '.join(cmd))
    print(p.stdout.rstrip() or '(no ABI change)')
    # abidiff's status is a bit field: 1 error, 2 usage error, 4 an ABI
    # change, 8 an incompatible one. A change (4) is allowed only when it
    # adds: nothing may be removed or changed.
    if p.returncode & 3:
        fail('abidiff could not compare %s with %s' % (args.lib,
                                                       args.baseline))
        return
    if p.returncode & 8:
        fail('abidiff found an incompatible ABI change against %s' %
             args.baseline)
    if p.returncode & 4:
        named = 0
        for kind, what in re.findall(r"^\s*\[([DC])\] '(.*?)'", p.stdout,
                                     re.M):
            fail('%s since the baseline: %s' %
                 ('removed' if kind == 'D' else 'changed', what))
            named += 1
        for m in re.finditer(r'^(.*summary): (.*)$', p.stdout, re.M):
            for count, what in re.findall(r'(\d+) (Removed|Changed)',
                                          m.group(2)):
                if int(count) and not named:
                    fail('%s: %s %s' % (m.group(1), count, what.lower()))
        for line in p.stdout.splitlines():
            if re.match(r'^(ELF SONAME changed|architecture changed|'
                        r'ELF architecture changed)', line):
                fail(line)
        # A released node is frozen: what is new goes in a new node.
        released = baseline_nodes(args.baseline)
        for name, node in re.findall(r'^\s*\[A\].*\{(\w+)@@?([\w.]+)\}',
                                     p.stdout, re.M):
            if node in released:
                fail('%s was added to %s, a released node: put it in a new '
                     'node that inherits the newest' % (name, node))
        if not failures and not re.search(r'\d+ Added', p.stdout):
            fail('abidiff reported a change that this check cannot read '
                 '(status %d)' % p.returncode)
    if not failures:
        print('compatible with %s' % os.path.basename(args.baseline))


def update_baseline(args):
    if not args.abidw or not args.readelf:
        fail('abidw or readelf was not found (Debian: apt-get install '
             'abigail-tools binutils)')
        return
    if not has_debug_info(args.readelf, args.lib):
        fail('%s has no debug information: build with -g' % args.lib)
        return
    # No source locations: the baseline changes with the ABI, not with
    # the line numbers of the internals.
    cmd = [args.abidw, '--headers-dir', args.headers_dir,
           '--drop-private-types', '--exported-interfaces-only',
           '--no-corpus-path', '--no-comp-dir-path', '--no-show-locs',
           '--out-file', args.baseline, args.lib]
    p = run(cmd)
    print('$ ' + ' '.join(cmd))
    print(p.stdout, end='')
    if p.returncode != 0:
        fail('abidw failed with status %d' % p.returncode)
        return
    # abidiff reads a comment only inside the root element.
    with open(args.baseline, encoding='utf-8') as f:
        first, rest = f.read().split('\n', 1)
    with open(args.baseline, 'w', encoding='utf-8') as f:
        f.write(first + '\n  <!-- SPDX-License-Identifier: MIT -->\n' + rest)
    consts = header(args.header).constants
    with open(args.constants, 'w', encoding='utf-8') as f:
        f.write('# SPDX-License-Identifier: MIT\n'
                '# The numeric macros of include/usock.h as released, '
                'written by\n# `meson compile abi-baseline`; '
                'check-abi.py baseline compares them.\n')
        for name, (_, text) in consts.items():
            f.write('%s %s\n' % (name, text))
    print('wrote %s and %s: review them with git diff and commit them with '
          'the release' % (args.baseline, args.constants))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)

    p = sub.add_parser('exports')
    p.add_argument('--nm', required=True)
    p.add_argument('--map', required=True)
    p.add_argument('--header', required=True)
    p.add_argument('lib')
    p.set_defaults(func=check_exports)

    p = sub.add_parser('archive')
    p.add_argument('--nm', required=True)
    p.add_argument('archive')
    p.set_defaults(func=check_archive)

    p = sub.add_parser('version')
    p.add_argument('--map', required=True)
    p.add_argument('--header', required=True)
    p.add_argument('project_version')
    p.set_defaults(func=check_version)

    for name, func in (('baseline', check_baseline),
                       ('update', update_baseline)):
        p = sub.add_parser(name)
        p.add_argument('--abidiff', default='')
        p.add_argument('--abidw', default='')
        p.add_argument('--readelf', required=True)
        p.add_argument('--headers-dir', required=True)
        p.add_argument('--header', required=True)
        p.add_argument('--baseline', required=True)
        p.add_argument('--constants', required=True)
        p.add_argument('lib')
        p.set_defaults(func=func)

    args = ap.parse_args()
    args.func(args)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
