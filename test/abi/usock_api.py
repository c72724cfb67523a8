# SPDX-License-Identifier: MIT
"""Read libusock's interface as its sources state it.

The one parser of include/usock.h (its functions with their prototypes,
its version macros and its numeric constants) and of lib/libusock.sym (its
version nodes and their global symbols). test/abi/check-abi.py and
man/check-man.py both import it, so that the ABI checks and the man page
checks read the same interface the same way.

What cannot be read is not raised: it is collected in the `problems` of
the result, each a message naming the file, for the checker to report as
a failure.
"""

import re


def strip_c(src):
    """C source without comments, with continued lines joined."""
    src = re.sub(r'/\*.*?\*/', ' ', src, flags=re.S)
    src = re.sub(r'//[^\n]*', ' ', src)
    return re.sub(r'\\\n', ' ', src)


def readable(decl):
    """A declaration on one line, whitespace folded."""
    return re.sub(r'\s+', ' ', decl).strip()


def split_prototype(text):
    """(name, text) of a function declaration without its ';', or None."""
    m = re.match(r'^(.*?)\b([A-Za-z_]\w*)\s*\((.*)\)\s*$', text, re.S)
    if not m or not m.group(1).strip():
        return None
    return m.group(2), text.strip()


class Source:
    """A file read whole; problems collects what could not be read."""

    def __init__(self, path):
        self.path = path
        self.problems = []
        with open(path, encoding='utf-8') as f:
            self.text = f.read()

    def problem(self, msg):
        self.problems.append(msg)


class Header(Source):
    """What usock.h declares and defines.

    functions  name -> prototype as written (without the ';'), in order
    version    (major, minor, micro) of the USOCK_VERSION_* macros, or None
    constants  name -> (value, text) of the other numeric USOCK_* macros
    problems   what could not be read
    """

    def __init__(self, path):
        super().__init__(path)
        src = strip_c(self.text)
        self.functions = self._functions(src)
        self.version = self._version(src)
        self.constants = self._constants(src)

    def _functions(self, src):
        src = re.sub(r'^\s*#[^\n]*', ' ', src, flags=re.M)
        src = re.sub(r'extern\s+"C"\s*\{', ' ', src)
        protos = {}
        for stmt in src.split(';'):
            stmt = stmt.strip().lstrip('{}').strip()
            if '(' not in stmt:
                continue
            p = split_prototype(stmt)
            if p is None:
                self.problem('%s: cannot parse the declaration "%s"'
                                     % (self.path, readable(stmt)))
                continue
            name, text = p
            if name in protos:
                self.problem('%s declares %s twice' %
                                     (self.path, name))
            protos[name] = text
        if not protos:
            self.problem('%s: no function declarations found' %
                                 self.path)
        return protos

    def _version(self, src):
        version = []
        for part in ('MAJOR', 'MINOR', 'MICRO'):
            m = re.search(r'^#\s*define\s+USOCK_VERSION_%s\s+(\d+)\s*$' %
                          part, src, re.M)
            if not m:
                self.problem('%s does not define USOCK_VERSION_%s '
                                     'as a number' % (self.path, part))
                return None
            version.append(int(m.group(1)))
        return tuple(version)

    def _constants(self, src):
        """The numeric USOCK_ macros (flags, types, limits), but not the
        version, which each release changes."""
        consts = {}
        for m in re.finditer(r'^#\s*define\s+(USOCK_\w+)\s+(\S+)\s*$', src,
                             re.M):
            if m.group(1).startswith('USOCK_VERSION_'):
                continue
            try:
                consts[m.group(1)] = (int(m.group(2), 0), m.group(2))
            except ValueError:
                self.problem(
                    '%s: %s is not a plain number (%s): the constants check '
                    'cannot read it' % (self.path, m.group(1), m.group(2)))
        return consts


class Node:
    """One version node: its name, the node it inherits, its globals."""

    def __init__(self, name, parent, symbols):
        self.name = name
        self.parent = parent
        self.symbols = symbols


class VersionScript(Source):
    """The nodes of a GNU ld version script, oldest first.

    nodes     [Node]
    where     symbol -> the name of the node that lists it
    symbols   every global symbol, in the order listed
    problems  what could not be read
    """

    def __init__(self, path):
        super().__init__(path)
        src = re.sub(r'#[^\n]*', ' ', self.text)
        src = re.sub(r'/\*.*?\*/', ' ', src, flags=re.S)
        self.nodes = self._nodes(src)
        self.where = {}
        self.symbols = []
        for node in self.nodes:
            for sym in node.symbols:
                if sym in self.where:
                    self.problem('%s lists %s twice (in %s and %s)' %
                                         (path, sym, self.where[sym],
                                          node.name))
                    continue
                self.where[sym] = node.name
                self.symbols.append(sym)
        if not self.symbols:
            self.problem('%s: no global symbols found' % path)

    def _nodes(self, src):
        nodes = []
        pos = 0
        node_re = re.compile(r'\s*([\w.]+)\s*\{(.*?)\}\s*([\w.]*)\s*;', re.S)
        while src[pos:].strip():
            m = node_re.match(src, pos)
            if not m:
                self.problem(
                    '%s: cannot parse the version script from "%s"' %
                    (self.path, src[pos:].strip()[:40]))
                break
            name, body, parent = m.group(1), m.group(2), m.group(3) or None
            symbols = []
            scope = None
            for tok in re.findall(r'\w+\s*:|[^\s;:]+\s*;', body):
                tok = re.sub(r'\s', '', tok)
                if tok.endswith(':'):
                    scope = tok[:-1]
                elif scope == 'global':
                    symbols.append(tok.rstrip(';'))
                elif scope != 'local':
                    self.problem(
                        '%s: %s lists %s outside global: and local:' %
                        (self.path, name, tok.rstrip(';')))
            nodes.append(Node(name, parent, symbols))
            pos = m.end()
        if not nodes:
            self.problem('%s: no version node found' % self.path)
        return nodes
