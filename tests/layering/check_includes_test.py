#!/usr/bin/env python3
"""Tests of the layering check (check_includes.py) on small trees written here: each rule
catches its forbidden include with file and line, the allowed includes pass, and the allowlist
lets exactly its entries through (a stale entry fails)."""

import os
import subprocess
import sys
import tempfile
import unittest

CHECK = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_includes.py")

# Includes every rule allows: a daemon -> the shared runtime and common/, sharing -> the
# policy, common/ -> common/, tools/ -> common/, and system headers.
CLEAN = {
    "common/bus/server.cc": '#include "common/bus/server.h"\n#include <zmq.hpp>\n',
    "common/auth/principals.cc": '#include "common/bus/auth.h"\n',
    "services/daemon/runtime.cc": '#include "common/auth/principals.h"\n',
    "services/intake/intake_daemon.cc": '#include "services/daemon/runtime.h"\n'
                                        '#include "services/intake/intake_handler.h"\n',
    "services/sharing/sharing_handler.h": '#include "common/policy/policy.h"\n',
    "tools/asbctl/commands.cc": '#include "common/config/config.h"\n',
}


def run(files, allowlist=None):
    with tempfile.TemporaryDirectory() as root:
        for d in ("common", "services", "tools"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        for path, text in files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as f:
                f.write(text)
        args = [sys.executable, CHECK, "--root", root]
        if allowlist is not None:
            list_path = os.path.join(root, "allowlist.txt")
            with open(list_path, "w", encoding="utf-8") as f:
                f.write(allowlist)
            args += ["--allowlist", list_path]
        result = subprocess.run(args, capture_output=True, text=True, check=False)
        return result.returncode, result.stdout


class CheckIncludesTest(unittest.TestCase):
    def test_clean_tree_passes(self):
        code, out = run(CLEAN)
        self.assertEqual(code, 0, out)

    def assertForbidden(self, path, text, where, words):
        code, out = run(dict(CLEAN, **{path: text}))
        self.assertEqual(code, 1, out)
        lines = out.splitlines()
        self.assertEqual(len(lines), 1, out)
        self.assertTrue(lines[0].startswith(where + ": forbidden #include"), out)
        self.assertIn(words, lines[0])

    def test_common_includes_no_service(self):
        self.assertForbidden("common/store/store.cc",
                             '#include "common/store/store.h"\n#include "services/audit/x.h"\n',
                             "common/store/store.cc:2", "common/ is shared")

    def test_common_includes_no_tool(self):
        self.assertForbidden("common/log/log.h", '#pragma once\n\n#include "tools/asbctl/a.h"\n',
                             "common/log/log.h:3", "nothing from services/ or tools/")

    def test_daemon_includes_no_other_daemon(self):
        self.assertForbidden("services/notify/outbox.cc",
                             '#include "services/sharing/sharing_handler.h"\n',
                             "services/notify/outbox.cc:1", "another daemon's folder")

    def test_shared_runtime_knows_no_daemon(self):
        self.assertForbidden("services/daemon/runtime.cc", '#include "services/audit/audit_log.h"\n',
                             "services/daemon/runtime.cc:1", "knows no daemon")

    def test_tools_include_no_service(self):
        self.assertForbidden("tools/asbctl/audit_commands.cc",
                             '// x\n#include "services/audit/audit_verify.h"\n',
                             "tools/asbctl/audit_commands.cc:2", "tools/ includes nothing")

    def test_only_sharing_includes_the_policy(self):
        for daemon in ("intake", "notify", "audit", "daemon"):
            with self.subTest(daemon=daemon):
                path = "services/%s/x.h" % daemon
                self.assertForbidden(path, '#  include <common/policy/policy.h>\n', path + ":1",
                                     "only asb-sharing holds the policy engine")

    def test_only_h_and_cc_files_are_read(self):
        code, out = run(dict(CLEAN, **{"services/notify/notes.md":
                                       '#include "common/policy/policy.h"\n'}))
        self.assertEqual(code, 0, out)

    def test_allowlist_lets_exactly_its_entries_through(self):
        files = dict(CLEAN, **{
            "tools/asbctl/audit_commands.cc": '#include "services/audit/audit_verify.h"\n',
            "tools/asbctl/other.cc": '#include "services/audit/audit_verify.h"\n'})
        code, out = run(files, "# why\ntools/asbctl/audit_commands.cc services/audit/audit_verify.h\n")
        self.assertEqual(code, 1, out)
        self.assertEqual(out.splitlines(), [
            'tools/asbctl/other.cc:1: forbidden #include "services/audit/audit_verify.h": tools/ '
            "includes nothing from services/: what a tool shares with a daemon belongs in common/"])

    def test_allowlist_pattern_covers_the_files_it_names(self):
        files = dict(CLEAN, **{
            "tools/asbctl/audit_verify_commands.cc": '#include "services/audit/audit_verify.h"\n',
            "tools/asbctl/internal/audit_helpers.h": '#include "services/audit/audit_verify.h"\n',
            "tools/asbctl/other.cc": '#include "services/audit/audit_log.h"\n',
            "tools/loadgen/loadgen.cc": '#include "services/audit/audit_verify.h"\n'})
        code, out = run(files, "tools/asbctl/* services/audit/audit_verify.h\n")
        self.assertEqual(code, 1, out)
        lines = out.splitlines()
        self.assertEqual(len(lines), 2, out)
        self.assertTrue(lines[0].startswith('tools/asbctl/other.cc:1: forbidden #include '
                                            '"services/audit/audit_log.h"'), out)
        self.assertTrue(lines[1].startswith('tools/loadgen/loadgen.cc:1: forbidden'), out)

    def test_stale_allowlist_entry_fails(self):
        code, out = run(CLEAN, "\n# gone\ntools/asbctl/audit_commands.cc services/audit/audit_verify.h\n")
        self.assertEqual(code, 1, out)
        self.assertIn("allowlist.txt:3: allowlist entry", out)
        self.assertIn("delete the line", out)


if __name__ == "__main__":
    unittest.main()
