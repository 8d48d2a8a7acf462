#!/usr/bin/python3
"""Layering check: the include graph of the sources keeps the layers the build enforces.

Reads the sources only (no build needed) and fails, printing file:line for each violation, on:
  - a file under common/ including a header from milter/, policyd/ or ctl/;
  - milter/ including policyd/ or policyd/ including milter/;
  - <libmilter/mfapi.h> included anywhere except milter/adapter.cpp;
  - an include cycle between files;
  - a cycle between the common/ libraries (one per common/ directory: the directory-level graph);
  - a common/ directory including another common/ directory's headers without the matching link edge
    in common/CMakeLists.txt (target_link_libraries(rampart_<dir> ... rampart_<other>)), a link edge
    with no include behind it, or a common/ directory without its rampart_<dir> library.

Quoted includes resolve as the compiler sees them: next to the including file first, then against the
include directories the CMake targets declare (common/ and the project root; tests/unit for tests), so
"util/log.h" is common/util/log.h and "policyd/x.h" is policyd/x.h. Includes that resolve to no project
file (the standard library, OpenSSL, date, ...) are outside the graph.

Usage: layering_test.py [--root DIR] [--graph]   (--graph prints the common/ directory graph)
       layering_test.py --selftest                (plants violations in a temp tree; passes if caught)
"""

import argparse
import os
import re
import shutil
import sys
import tempfile

SOURCE_DIRS = ["common", "milter", "policyd", "ctl", "tests/unit", "tests/tools", "bench"]
EXTENSIONS = (".cpp", ".h", ".hpp", ".cc", ".c")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
PROGRAMS = ("milter", "policyd", "ctl")
MFAPI = "libmilter/mfapi.h"
MFAPI_ALLOWED = "milter/adapter.cpp"


def source_files(root):
    for top in SOURCE_DIRS:
        base = os.path.join(root, top)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith(EXTENSIONS):
                    yield os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/")


def resolve(root, including, target):
    """The project file (relative to root) that an include names, or None when it is external."""
    candidates = [os.path.join(os.path.dirname(including), target), os.path.join("common", target), target]
    if including.startswith("tests/"):
        candidates.append(os.path.join("tests/unit", target))
    for c in candidates:
        c = os.path.normpath(c).replace(os.sep, "/")
        if not c.startswith("..") and os.path.isfile(os.path.join(root, c)):
            return c
    return None


def read_includes(root, files):
    """{file: [(line, kind, spelled, resolved-or-None)]}"""
    graph = {}
    for f in files:
        entries = []
        with open(os.path.join(root, f), encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                m = INCLUDE_RE.match(line)
                if m:
                    entries.append((lineno, m.group(1), m.group(2), resolve(root, f, m.group(2))))
        graph[f] = entries
    return graph


def top_dir(path):
    return path.split("/", 1)[0]


def common_dir(path):
    """'util' for common/util/log.h; None outside common/ (or a file directly in common/)."""
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "common" else None


def strongly_connected(nodes, edges):
    """Tarjan's algorithm (iterative): the components with a cycle (more than one node, or a self-loop)."""
    index, low, on_stack, stack, result, counter = {}, {}, set(), [], [], [0]
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    n = stack.pop()
                    on_stack.discard(n)
                    comp.append(n)
                    if n == node:
                        break
                if len(comp) > 1 or node in edges.get(node, ()):
                    result.append(sorted(comp))
    return result


def shortest_cycle(comp, edges):
    """The shortest cycle inside one strongly connected component, as a list of nodes."""
    members, best = set(comp), None
    for start in comp:
        prev, frontier, found = {start: None}, [start], None
        while frontier and found is None:
            nxt_frontier = []
            for node in frontier:
                for nxt in sorted(edges.get(node, ()) & members):
                    if nxt == start:
                        found = node
                        break
                    if nxt not in prev:
                        prev[nxt] = node
                        nxt_frontier.append(nxt)
                if found is not None:
                    break
            frontier = nxt_frontier
        if found is not None:
            path, node = [], found
            while node is not None:
                path.append(node)
                node = prev[node]
            path.reverse()
            if best is None or len(path) < len(best):
                best = path
    return best


def cmake_link_edges(root, dirs):
    """{dir: set(linked common dirs)} from common/CMakeLists.txt, or None when there is no such file."""
    path = os.path.join(root, "common", "CMakeLists.txt")
    if not os.path.isfile(path):
        return None, set()
    with open(path, encoding="utf-8") as fh:
        text = re.sub(r"#[^\n]*", "", fh.read())
    declared = set(re.findall(r"add_library\(\s*rampart_(\w+)", text))
    # rampart_common_layer(dir) adds rampart_<dir>; a foreach() over directory names calls it.
    if re.search(r"add_library\(\s*rampart_\$\{dir\}", text):
        for names in re.findall(r"foreach\(\s*dir\s+([^)]*)\)", text):
            declared.update(names.split())
    edges = {}
    for target, args in re.findall(r"target_link_libraries\(\s*rampart_(\w+)([^)]*)\)", text):
        linked = {name for name in re.findall(r"\brampart_(\w+)", args) if name in dirs}
        edges.setdefault(target, set()).update(linked)
    return edges, declared


def check(root, print_graph=False):
    files = list(source_files(root))
    graph = read_includes(root, files)
    violations = []

    def bad(f, line, msg):
        violations.append(f"{f}:{line}: {msg}")

    # Layer rules on single includes.
    for f, entries in graph.items():
        src_top = top_dir(f)
        for line, kind, spelled, target in entries:
            if spelled == MFAPI and f != MFAPI_ALLOWED:
                bad(f, line, f"includes <{MFAPI}>: only {MFAPI_ALLOWED} may talk to libmilter")
            if target is None:
                continue
            dst_top = top_dir(target)
            if src_top == "common" and dst_top in PROGRAMS:
                bad(f, line, f'includes "{spelled}" ({target}): common/ must not include {dst_top}/ headers')
            if {src_top, dst_top} == {"milter", "policyd"}:
                bad(f, line, f'includes "{spelled}" ({target}): milter/ and policyd/ must not include each other')

    # File-level cycles.
    file_edges = {f: {t for _, _, _, t in e if t is not None} for f, e in graph.items()}
    for comp in strongly_connected(sorted(file_edges), file_edges):
        members = set(comp)
        for f in comp:
            for line, _, spelled, target in graph[f]:
                if target in members:
                    bad(f, line, f'includes "{spelled}" ({target}): include cycle among {", ".join(comp)}')

    # Directory-level graph of common/ (one library per directory).
    dirs = sorted({common_dir(f) for f in files if common_dir(f)})
    dir_edges, dir_where = {d: set() for d in dirs}, {}
    for f, entries in graph.items():
        src = common_dir(f)
        if src is None:
            continue
        for line, _, spelled, target in entries:
            dst = common_dir(target) if target else None
            if dst and dst != src:
                dir_edges[src].add(dst)
                dir_where.setdefault((src, dst), []).append(f"{f}:{line}")
    if print_graph:
        print("common/ directory graph (directory -> directories whose headers it includes):")
        for d in dirs:
            print(f"  {d:12} -> {' '.join(sorted(dir_edges[d])) or '(none)'}")
    for comp in strongly_connected(dirs, dir_edges):
        # One shortest cycle, each edge shown at its first include (all of them would bury the news).
        cycle = shortest_cycle(comp, dir_edges)
        path = " -> ".join(cycle + [cycle[0]])
        for src, dst in zip(cycle, cycle[1:] + cycle[:1]):
            where = dir_where[(src, dst)]
            more = f" (and {len(where) - 1} more includes)" if len(where) > 1 else ""
            violations.append(f"{where[0]}: common/{src} includes common/{dst}{more}: library cycle {path} "
                              f"(in {', '.join(comp)}; the rampart_<dir> libraries must form a DAG)")

    # Declared CMake link edges against the include graph.
    links, declared = cmake_link_edges(root, set(dirs))
    if links is None:
        print("note: no common/CMakeLists.txt under the root: link edges not checked")
    else:
        cm = "common/CMakeLists.txt"
        for d in dirs:
            if d not in declared:
                violations.append(f"{cm}: no add_library(rampart_{d} ...) for common/{d}")
            have = links.get(d, set())
            for dst in sorted(dir_edges[d] - have):
                where = dir_where[(d, dst)][0]
                violations.append(f"{where}: common/{d} includes common/{dst} but {cm} does not link "
                                  f"rampart_{d} to rampart_{dst}")
            for dst in sorted(have - dir_edges[d]):
                violations.append(f"{cm}: rampart_{d} links rampart_{dst} but no file in common/{d} "
                                  f"includes a common/{dst} header")

    for v in violations:
        print(v)
    print(f"layering: {len(files)} files, {sum(len(e) for e in graph.values())} includes, "
          f"{len(violations)} violation(s)")
    return not violations


PLANTED = {
    # A cycle between two common/ libraries (and between two files), and common/ reaching into policyd/.
    "common/util/a.h": '#include "mail/b.h"\n',
    "common/mail/b.h": '#include "util/a.h"\n#include "policyd/p.h"\n',
    "policyd/p.h": '#include "milter/m.h"\n',
    "milter/m.h": "#include <libmilter/mfapi.h>\n",
    "milter/adapter.cpp": "#include <libmilter/mfapi.h>\n",
}
PLANTED_EXPECT = ["library cycle", "include cycle", "must not include policyd/",
                  "milter/ and policyd/ must not include each other", "only milter/adapter.cpp"]


def selftest():
    """Plant one of each violation in a temp tree: the check must fail and name every one."""
    tmp = tempfile.mkdtemp(prefix="rampart-layering-")
    try:
        for rel, text in PLANTED.items():
            os.makedirs(os.path.join(tmp, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(tmp, rel), "w", encoding="utf-8") as fh:
                fh.write(text)
        import contextlib
        import io
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            ok = check(tmp)
        print(out.getvalue(), end="")
        missing = [e for e in PLANTED_EXPECT if e not in out.getvalue()]
        if ok or missing:
            print(f"selftest FAILED: check passed={ok}, not reported: {missing}")
            return False
        print("selftest: every planted violation was reported")
        return True
    finally:
        shutil.rmtree(tmp)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parser.add_argument("--graph", action="store_true", help="print the common/ directory graph")
    parser.add_argument("--selftest", action="store_true", help="check a planted-violation tree; must fail")
    args = parser.parse_args()
    if args.selftest:
        return 0 if selftest() else 1
    return 0 if check(os.path.abspath(args.root), args.graph) else 1


if __name__ == "__main__":
    sys.exit(main())
