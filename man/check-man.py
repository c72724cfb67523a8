#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check libusock's man pages against the header and the version script.

man/meson.build runs one check per test, each from the one list of pages:

  lint      every page is clean under `mandoc -Tlint -Wwarning` (exit 77,
            a skip, when mandoc was not found)
  stubs     the directory of the pages holds exactly the pages and alias
            pages of the list, and each alias page is a symbolic link to its
            page in the same directory: none missing or stray
  symbols   every symbol in the version script has a page or an alias, every
            page and alias documents an exported symbol (that the header
            declares exactly the symbols of the version script is test/abi's
            exports check)
  synopsis  each page's NAME lists its page and aliases, and its SYNOPSIS
            holds the header's exact prototype (whitespace aside) of each,
            one prototype per block; its .TH and sections are in place, and
            the .TH says the project's version ("libusock X.Y.Z", from
            meson's project version given with --version)
  example   a page shows a source file, verbatim, in one .EX block
  excerpt   a page shows part of a source file in one .EX block: a run of
            whole lines of it, verbatim but for their common indentation
  errnos    `errnos LOG`: every "usock_X ENAME" line of LOG (the errno
            recorder's, test/errno) names an errno that the ERRORS section
            of usock_X's page has as an entry, the tag of a .TP; an alias
            is looked up in the page it links to (exit 77, a skip,
            when LOG is missing or empty: nothing was observed)

Pages are given as `--page PAGE [ALIAS ...]`: a real page and the alias
pages that point to it. A failure names the symbol and page at fault
and makes the exit status 1.

`check-man.py example-roff FILE` prints FILE escaped for an .EX block, the
way that the example check expects it in the page; `check-man.py example-roff
FILE FIRST LAST` prints lines FIRST to LAST of it (counted from 1, the SPDX
line included) without their common indentation, as the excerpt check
expects them.
"""

import argparse
import errno
import os
import re
import subprocess
import sys

# The parser of usock.h and libusock.sym that test/abi/check-abi.py uses
# too; no __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, 'test', 'abi'))
import usock_api  # noqa: E402
from usock_api import readable, split_prototype  # noqa: E402

FONT_MACROS = {'B', 'I', 'SM', 'SB'}
ALT_FONT_MACROS = {'BI', 'IB', 'BR', 'RB', 'IR', 'RI'}
# The sections that every page of each man section must have.
REQUIRED_SECTIONS = {
    '3': ['NAME', 'LIBRARY', 'SYNOPSIS', 'DESCRIPTION', 'RETURN VALUE',
          'ERRORS', 'SEE ALSO'],
    '7': ['NAME', 'DESCRIPTION', 'EXAMPLES', 'SEE ALSO'],
}
EXAMPLE_TABSIZE = 4

failures = []


def fail(msg):
    failures.append(msg)
    print('FAIL: ' + msg)


# ---------------------------------------------------------------- C side


def normalise(decl):
    """Whitespace-normalised form of a declaration: one space between two
    words, none next to punctuation."""
    decl = re.sub(r'\s+', ' ', decl).strip()
    return re.sub(r'\s*([^\w\s])\s*', r'\1', decl)


def parse_header(path):
    """Map each function that the header declares to its prototype."""
    h = usock_api.Header(path)
    for problem in h.problems:
        fail(problem)
    return h.functions


def parse_symbols(path):
    """The global symbols of every node of a GNU ld version script."""
    vs = usock_api.VersionScript(path)
    for problem in vs.problems:
        fail(problem)
    return vs.symbols


# -------------------------------------------------------------- roff side

ESCAPES = [
    (r'\e', '\\'), (r'\\', '\\'), (r'\-', '-'), (r'\(aq', "'"),
    (r'\(dq', '"'), (r'\(lq', '"'), (r'\(rq', '"'), (r'\(em', '--'),
    (r'\(en', '-'), (r'\(bu', '*'), (r'\&', ''), (r'\%', ''), (r'\c', ''),
    (r'\ ', ' '), (r'\~', ' '), (r'\|', ''), (r'\^', ''),
]


def unescape(s):
    out = []
    i = 0
    while i < len(s):
        if s[i] != '\\':
            out.append(s[i])
            i += 1
            continue
        m = re.match(r'\\f(\[[^\]]*\]|\(..|.)', s[i:])
        if m:
            i += len(m.group(0))
            continue
        for esc, rep in ESCAPES:
            if s.startswith(esc, i):
                out.append(rep)
                i += len(esc)
                break
        else:
            out.append(s[i])
            i += 1
    return ''.join(out)


def roff_args(s):
    """Split a macro line's arguments the way roff does."""
    args = []
    i = 0
    while i < len(s):
        while i < len(s) and s[i] in ' \t':
            i += 1
        if i >= len(s):
            break
        if s[i] == '"':
            i += 1
            arg = []
            while i < len(s):
                if s[i] == '"':
                    if s.startswith('""', i):
                        arg.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                arg.append(s[i])
                i += 1
            args.append(''.join(arg))
        else:
            j = i
            while j < len(s) and s[j] not in ' \t':
                j += 1
            args.append(s[i:j])
            i = j
    return args


def roff_lines(path):
    """Logical input lines of a page: comments dropped, continued lines
    joined."""
    with open(path, encoding='utf-8') as f:
        raw = f.read().split('\n')
    lines = []
    pending = ''
    for line in raw:
        line = pending + line
        pending = ''
        if re.match(r'^[.\']\s*\\"', line):
            continue
        if line.endswith('\\') and not line.endswith('\\\\'):
            pending = line[:-1]
            continue
        lines.append(line)
    if pending:
        lines.append(pending)
    return lines


def page_sections(path):
    """(title line args, {section name: [lines]}) of a man(7) page."""
    th = None
    sections = {}
    current = None
    for line in roff_lines(path):
        m = re.match(r'^\.(\S+)\s*(.*)$', line)
        if m and m.group(1) == 'TH':
            th = roff_args(m.group(2))
        elif m and m.group(1) == 'SH':
            current = ' '.join(roff_args(m.group(2)))
            if current in sections:
                fail('%s: section %s appears twice' % (path, current))
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    return th, sections


def text_blocks(lines):
    """Blocks of formatted text, separated by paragraph and layout macros."""
    blocks = [[]]
    for line in lines:
        m = re.match(r'^[.\'](\S+)\s*(.*)$', line)
        if m:
            macro, rest = m.group(1), m.group(2)
            if macro in FONT_MACROS:
                blocks[-1].append(' '.join(roff_args(rest)))
            elif macro in ALT_FONT_MACROS:
                blocks[-1].append(''.join(roff_args(rest)))
            else:
                # A layout macro, or one that the checker does not know:
                # either way, text does not run across it.
                blocks.append([])
        else:
            blocks[-1].append(line)
    return ['\n'.join(unescape(l) for l in b) for b in blocks if b]


def page_names(path, sections):
    """The names that a page's NAME section lists before the \\- dash."""
    text = ' '.join(l for l in sections.get('NAME', [])
                    if not l.startswith('.'))
    if '\\-' not in text:
        fail('%s: NAME section has no "\\-" after the names' % path)
        return []
    names = [unescape(n).strip() for n in text.split('\\-', 1)[0].split(',')]
    return [n for n in names if n]


def synopsis_items(path, sections):
    """(includes, [(name, prototype)]) from a page's SYNOPSIS."""
    includes = []
    protos = []
    for block in text_blocks(sections.get('SYNOPSIS', [])):
        code = []
        for line in block.split('\n'):
            if line.strip().startswith('#include'):
                includes.append(readable(line))
            else:
                code.append(line)
        code = '\n'.join(code).strip()
        if not re.search(r'\b[A-Za-z_]\w*\s*\(', code):
            continue  # not C: a command line, a constant
        if code.count(';') != 1 or not code.endswith(';'):
            fail('%s: SYNOPSIS block is not one prototype ending in ";" '
                 '(separate prototypes with .PP): "%s"' %
                 (path, readable(code)))
            continue
        p = split_prototype(code[:-1])
        if p is None:
            fail('%s: cannot parse the SYNOPSIS prototype "%s"' %
                 (path, readable(code)))
            continue
        protos.append(p)
    return includes, protos


# ------------------------------------------------------------ the checks


def page_base(path):
    name = os.path.basename(path)
    base, _, section = name.rpartition('.')
    return base, section


def alias_name(path):
    return page_base(path)[0]


def documented_names(pages):
    """name -> the page or alias file that documents it (section 3)."""
    names = {}
    for page, aliases in pages:
        base, section = page_base(page)
        entries = ([(base, page)] if section == '3' else []) + \
            [(alias_name(a), a) for a in aliases]
        for name, where in entries:
            if name in names:
                fail('%s is documented twice: %s and %s' %
                     (name, names[name], where))
            names[name] = where
    return names


def check_lint(args):
    if not args.mandoc:
        print('SKIP: mandoc was not found when the build was configured')
        return 77
    if not os.access(args.mandoc, os.X_OK):
        fail('cannot run %s, the mandoc that the build found' % args.mandoc)
        return 0
    for page, _ in args.page:
        r = subprocess.run([args.mandoc, '-Tlint', '-Wwarning', page],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, check=False)
        if r.returncode != 0 or r.stdout.strip():
            fail('%s: mandoc -Tlint -Wwarning (exit %d):\n%s' %
                 (page, r.returncode, r.stdout.rstrip()))
    return 0


def check_symbols(args):
    syms = parse_symbols(args.symbols)
    names = documented_names(args.page)
    for sym in syms:
        if sym not in names:
            fail('symbol %s (%s) has no man page or alias' %
                 (sym, args.symbols))
    for name, where in sorted(names.items()):
        if name not in syms:
            fail('%s documents %s, which %s does not export' %
                 (where, name, args.symbols))
    return 0


def check_stubs(args):
    listed = {}
    for page, aliases in args.page:
        listed[os.path.basename(page)] = None
        for alias in aliases:
            listed[os.path.basename(alias)] = page
    for name in sorted(os.listdir(args.dir)):
        path = os.path.join(args.dir, name)
        if not re.match(r'^[\w.-]+\.[0-9]$', name) or not os.path.isfile(path):
            continue
        if name not in listed:
            fail('%s is not in man/meson.build\'s list of pages: a stray '
                 'page or alias, or one missing from the list' % path)
    for name, page in sorted(listed.items()):
        path = os.path.join(args.dir, name)
        if not os.path.isfile(path):
            fail('%s is missing: man/meson.build lists it' % path)
        elif page is not None:
            # A link, not a `.so` page: man-db resolves `.so` against the
            # current directory, so `man -l man/ALIAS.3` could not open
            # one from the tree; a link opens anywhere, and installs as one.
            want = os.path.basename(page)
            got = os.readlink(path) if os.path.islink(path) else None
            if got != want:
                fail('alias page %s should be a symbolic link to %s, not %s'
                     % (path, want, 'one to ' + got if got
                        else 'a file'))
    return 0


def check_synopsis(args):
    protos = parse_header(args.header)
    header_name = os.path.basename(args.header)
    for page, aliases in args.page:
        base, section = page_base(page)
        th, sections = page_sections(page)
        if not th or len(th) < 2 or th[0] != base.upper() or \
                th[1] != section:
            fail('%s: .TH should begin "%s %s", not "%s"' %
                 (page, base.upper(), section, ' '.join(th or [])))
        source = 'libusock ' + args.version
        if not th or len(th) < 4 or th[3] != source:
            fail('%s: .TH should name the source "%s" (the project version '
                 'in meson.build), not "%s"' %
                 (page, source, th[3] if th and len(th) > 3 else ''))
        for name in REQUIRED_SECTIONS.get(section, ['NAME']):
            if name not in sections:
                fail('%s: has no %s section' % (page, name))
        includes, found = synopsis_items(page, sections)
        if section == '3':
            want = [base] + [alias_name(a) for a in aliases]
            names = page_names(page, sections)
            for name in want:
                if name not in names:
                    fail('%s: NAME section does not list %s' % (page, name))
            for name in names:
                if name not in want:
                    fail('%s: NAME section lists %s, which is neither the '
                         'page nor one of its aliases in man/meson.build' %
                         (page, name))
            if '#include <%s>' % header_name not in includes:
                fail('%s: SYNOPSIS lacks "#include <%s>"' %
                     (page, header_name))
            for name in want:
                n = sum(1 for f, _ in found if f == name)
                if n != 1:
                    fail('%s: SYNOPSIS has %d prototypes of %s, not 1' %
                         (page, n, name))
        else:
            want = []
        for name, text in found:
            if name not in protos:
                fail('%s: SYNOPSIS declares %s, which %s does not' %
                     (page, name, args.header))
            elif normalise(text) != normalise(protos[name]):
                fail('%s: SYNOPSIS prototype of %s differs from %s:\n'
                     '  page:   %s\n  header: %s' %
                     (page, name, args.header, readable(text),
                      readable(protos[name])))
            if section == '3' and name not in want:
                fail('%s: SYNOPSIS declares %s, which is neither the page '
                     'nor one of its aliases in man/meson.build' %
                     (page, name))
    return 0


def example_text(path):
    """A source file as a page shows it: without its SPDX line, tabs
    expanded."""
    with open(path, encoding='utf-8') as f:
        lines = f.read().rstrip('\n').split('\n')
    if lines and 'SPDX-License-Identifier' in lines[0]:
        lines = lines[1:]
    return [l.expandtabs(EXAMPLE_TABSIZE) for l in lines]


def dedent(lines):
    """Lines without the indentation that all non-blank ones share."""
    indent = min((len(l) - len(l.lstrip(' ')) for l in lines if l.strip()),
                 default=0)
    return [l[indent:] if l.strip() else '' for l in lines]


def source_lines(path):
    """A source file's lines, tabs expanded as a page shows them."""
    with open(path, encoding='utf-8') as f:
        return [l.expandtabs(EXAMPLE_TABSIZE)
                for l in f.read().rstrip('\n').split('\n')]


def roff_escape(line):
    line = line.replace('\\', '\\e').replace('-', '\\-')
    line = line.replace("'", '\\(aq')
    if line.startswith('.'):
        line = '\\&' + line
    return line


def example_blocks(page):
    """The text of each .EX block of a page, unescaped."""
    blocks = []
    block = None
    with open(page, encoding='utf-8') as f:
        for line in f.read().split('\n'):
            if line.startswith('.EX'):
                block = []
            elif line.startswith('.EE') and block is not None:
                blocks.append(block)
                block = None
            elif block is not None:
                block.append(unescape(line))
    return blocks


def check_example(args):
    page, source = args.example
    want = example_text(source)
    blocks = example_blocks(page)
    if want in blocks:
        return 0
    import difflib
    best = max(blocks, key=lambda b: difflib.SequenceMatcher(
        None, b, want).ratio(), default=[])
    diff = difflib.unified_diff(best, want, page, source, lineterm='', n=1)
    fail('%s does not show %s verbatim in an .EX block; regenerate it '
         'with "%s example-roff %s":\n%s' %
         (page, source, sys.argv[0], source, '\n'.join(diff)))
    return 0


# An excerpt shorter than this proves little.
EXCERPT_MIN_LINES = 5


def check_excerpt(args):
    page, source = args.example
    src = source_lines(source)
    blocks = [b for b in example_blocks(page)
              if len(b) >= EXCERPT_MIN_LINES]
    for block in blocks:
        n = len(block)
        for i in range(len(src) - n + 1):
            if dedent(src[i:i + n]) == block:
                return 0
    # Name the block that comes closest, against the nearest source run.
    import difflib
    best = None
    for block in blocks:
        n = len(block)
        for i in range(len(src) - n + 1):
            run = dedent(src[i:i + n])
            ratio = difflib.SequenceMatcher(None, block, run).ratio()
            if best is None or ratio > best[0]:
                best = (ratio, block, run, i + 1)
    if best is None:
        fail('%s has no .EX block of at least %d lines to be an excerpt '
             'of %s' % (page, EXCERPT_MIN_LINES, source))
        return 0
    _, block, run, first = best
    diff = difflib.unified_diff(block, run, page, '%s:%d' % (source, first),
                                lineterm='', n=1)
    fail('%s shows no run of lines of %s, verbatim but for indentation, in '
         'an .EX block; regenerate it with "%s example-roff %s FIRST LAST":'
         '\n%s' % (page, source, sys.argv[0], source, '\n'.join(diff)))
    return 0


def errors_entries(path):
    """The errno values (numbers) that a page's ERRORS section has as
    entries: the names in the tag line of each .TP."""
    _, sections = page_sections(path)
    values = set()
    lines = sections.get('ERRORS', [])
    for i, line in enumerate(lines):
        if not re.match(r'^\.TP\s*$', line) or i + 1 == len(lines):
            continue
        tag = text_blocks([lines[i + 1]])
        for name in re.findall(r'-(E[A-Z0-9]+)\b', ' '.join(tag)):
            if not hasattr(errno, name):
                fail('%s: ERRORS entry -%s is no errno name' % (path, name))
                continue
            values.add(getattr(errno, name))
    return values


def check_errnos(args):
    try:
        with open(args.log, encoding='utf-8') as f:
            lines = f.read().split('\n')
    except FileNotFoundError:
        lines = []
    names = documented_names(args.page)
    observed = set()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        words = line.split()
        if len(words) != 2:
            fail('%s:%d: not "function ERRNO": "%s"' % (args.log, n, line))
            continue
        observed.add((words[0], words[1]))
    if not observed and not failures:
        print('SKIP: %s records no (function, errno) pair: run this check '
              'after the test programs (meson test)' % args.log)
        return 77
    entries = {}
    missing = []
    for fn, name in sorted(observed):
        where = names.get(fn)
        if where is None:
            fail('%s returned -%s, but no page documents %s' %
                 (fn, name, fn))
            continue
        # An alias page is a link to the page that documents it.
        page = (os.path.join(os.path.dirname(where), os.readlink(where))
                if os.path.islink(where) else where)
        if page not in entries:
            entries[page] = errors_entries(page)
        value = getattr(errno, name, None)
        if value is None and name.isdigit():
            value = int(name)
        if value not in entries[page]:
            missing.append((fn, name, page))
    for fn, name, page in missing:
        fail('%s returned -%s, which the ERRORS section of %s does not list'
             % (fn, name, page))
    print('%d (function, errno) pairs observed in %s, %d not documented' %
          (len(observed), args.log, len(missing)))
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == 'example-roff':
        for line in example_text(sys.argv[2]):
            print(roff_escape(line))
        return 0
    if len(sys.argv) == 5 and sys.argv[1] == 'example-roff':
        src = source_lines(sys.argv[2])
        first, last = int(sys.argv[3]), int(sys.argv[4])
        if not 1 <= first <= last <= len(src):
            print('lines %d to %d are not in %s (%d lines)' %
                  (first, last, sys.argv[2], len(src)), file=sys.stderr)
            return 2
        for line in dedent(src[first - 1:last]):
            print(roff_escape(line))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('check', choices=['lint', 'stubs', 'symbols', 'synopsis',
                                      'example', 'excerpt', 'errnos'])
    ap.add_argument('log', nargs='?', help='the errno log (errnos)')
    ap.add_argument('--dir')
    ap.add_argument('--version')
    ap.add_argument('--header')
    ap.add_argument('--symbols')
    ap.add_argument('--mandoc')
    ap.add_argument('--page', nargs='+', action='append', default=[],
                    metavar=('PAGE', 'ALIAS'))
    ap.add_argument('--example', nargs=2, metavar=('PAGE', 'SOURCE'))
    args = ap.parse_args()
    args.page = [(os.path.normpath(p[0]), [os.path.normpath(a)
                                           for a in p[1:]])
                 for p in args.page]
    need = {'lint': ['mandoc', 'page'], 'stubs': ['dir', 'page'],
            'symbols': ['symbols', 'page'],
            'synopsis': ['header', 'version', 'page'],
            'example': ['example'],
            'excerpt': ['example'],
            'errnos': ['log', 'page']}
    for opt in need[args.check]:
        if getattr(args, opt) is None or (opt == 'page' and not args.page):
            ap.error('%s needs %s' % (args.check,
                                      'LOG' if opt == 'log' else '--' + opt))
    r = globals()['check_' + args.check](args)
    if failures:
        print('%s: %d failure(s)' % (args.check, len(failures)))
        return 1
    if r == 0:
        print('%s: all good' % args.check)
    return r


if __name__ == '__main__':
    sys.exit(main())
