#!/usr/bin/env python3
"""The layering check: fails, naming file and line, on an #include the design forbids.

Reads the #include lines of every .h and .cc file under common/, services/ and tools/ of the
source tree (ctest runs it: tests/layering/CMakeLists.txt) and reports each include that breaks
one of these rules:

  - common/ is shared by every daemon and tool: it includes nothing from services/ or tools/;
  - a daemon's folder (services/<daemon>/) includes nothing from another daemon's folder;
    services/daemon/ is the shared runtime: every daemon may include it, and it includes no
    daemon's folder (the runtime knows no daemon);
  - tools/ includes nothing from services/ (what a tool shares with a daemon lives in common/);
  - asb-intake, asb-notify and asb-audit, and the shared runtime they link, include nothing
    from common/policy: only asb-sharing holds the policy engine and the pseudonymisation key.

An include listed in the allowlist (FILE INCLUDE per line, '#' comments; FILE may be a
shell-style pattern such as tools/asbctl/*) is let through; an allowlist line that no longer
matches any include is itself an error, so the list only shrinks.

Usage: check_includes.py [--root DIR] [--allowlist FILE]. Exit 0: clean; 1: violations (one
line each, "file:line: ..."); 2: bad usage or allowlist.
"""

import argparse
import fnmatch
import os
import re
import sys

SCANNED = ("common", "services", "tools")
EXTENSIONS = (".h", ".cc")
SHARED_RUNTIME = "daemon"
# The shared runtime too: intake, notify and audit link it.
WITHOUT_POLICY = ("intake", "notify", "audit", SHARED_RUNTIME)
INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')


def top(path, n):
    """The first n components of a relative path, or None if it has fewer."""
    parts = path.split("/")
    return parts[:n] if len(parts) > n else None


def violation(source, target):
    """Why `source` (a file, relative to the root) may not include `target`, or None."""
    if source.startswith("common/") and target.startswith(("services/", "tools/")):
        return "common/ is shared by every daemon and tool: it includes nothing from " \
               "services/ or tools/"
    if source.startswith("tools/") and target.startswith("services/"):
        return "tools/ includes nothing from services/: what a tool shares with a daemon " \
               "belongs in common/"
    src, dst = top(source, 2), top(target, 2)
    if src and src[0] == "services":
        daemon = src[1]
        if dst and dst[0] == "services" and dst[1] != daemon and dst[1] != SHARED_RUNTIME:
            if daemon == SHARED_RUNTIME:
                return "services/daemon/ is the shared runtime and knows no daemon: it " \
                       "includes nothing from services/%s/" % dst[1]
            return "services/%s/ includes nothing from another daemon's folder " \
                   "(services/%s/); only services/daemon/ is shared" % (daemon, dst[1])
        if daemon in WITHOUT_POLICY and target.startswith("common/policy/"):
            return "only asb-sharing holds the policy engine and the pseudonymisation key: " \
                   "services/%s/ includes nothing from common/policy/" % daemon
    return None


def read_allowlist(path):
    """{(file pattern, include): line number} from the allowlist file."""
    allowed = {}
    if not path:
        return allowed
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            fields = line.split()
            if len(fields) != 2:
                print("%s:%d: expected 'FILE INCLUDE'" % (path, number), file=sys.stderr)
                sys.exit(2)
            allowed[(fields[0], fields[1])] = number
    return allowed


def sources(root):
    for top_dir in SCANNED:
        base = os.path.join(root, top_dir)
        for directory, subdirs, files in os.walk(base):
            subdirs.sort()
            for name in sorted(files):
                if name.endswith(EXTENSIONS):
                    path = os.path.join(directory, name)
                    yield os.path.relpath(path, root).replace(os.sep, "/"), path


def check(root, allowlist_path):
    allowed = read_allowlist(allowlist_path)
    used = set()
    errors = []
    for relative, path in sources(root):
        with open(path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                match = INCLUDE.match(line)
                if not match:
                    continue
                target = match.group(1)
                why = violation(relative, target)
                if why is None:
                    continue
                exempt = [entry for entry in allowed
                          if entry[1] == target and fnmatch.fnmatchcase(relative, entry[0])]
                if exempt:
                    used.update(exempt)
                    continue
                errors.append('%s:%d: forbidden #include "%s": %s' % (relative, number, target, why))
    for entry, number in sorted(allowed.items(), key=lambda item: item[1]):
        if entry not in used:
            errors.append("%s:%d: allowlist entry '%s %s' matches no forbidden include any more: "
                          "delete the line" % (allowlist_path, number, entry[0], entry[1]))
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."),
                        help="the source tree (default: this script's ../..)")
    parser.add_argument("--allowlist", default=None,
                        help="exceptions, FILE INCLUDE per line, FILE may be a pattern "
                             "(default: none)")
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    for d in SCANNED:
        if not os.path.isdir(os.path.join(root, d)):
            print("check_includes: %s has no %s/ folder: not a source tree" % (root, d),
                  file=sys.stderr)
            return 2
    errors = check(root, args.allowlist)
    for e in errors:
        print(e)
    if errors:
        print("layering: %d problem(s); the rules are in %s" % (len(errors), __file__),
              file=sys.stderr)
        return 1
    print("layering: every #include of common/, services/ and tools/ keeps the design's layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
