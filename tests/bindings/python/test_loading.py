"""How `import mamlpp` finds libmamlpp and refuses a wrong one (each case in a fresh interpreter)."""
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import helpers

BINDING = os.path.join(helpers.REPO_ROOT, "bindings", "python")


def run_import(env_library, code="import mamlpp; print(mamlpp.abi_version())"):
    env = dict(os.environ)
    env["PYTHONPATH"] = BINDING
    if env_library is None:
        env.pop("MAMLPP_LIBRARY", None)
    else:
        env["MAMLPP_LIBRARY"] = env_library
    p = subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


class LoadingTest(unittest.TestCase):
    def test_missing_library_is_a_clear_import_error(self):
        rc, out, err = run_import("/nonexistent/libmamlpp.so.1")
        self.assertNotEqual(rc, 0)
        self.assertIn("ImportError", err)
        self.assertIn("MAMLPP_LIBRARY", err)
        self.assertIn("/nonexistent/libmamlpp.so.1", err)

    def fake_library(self, code, name):
        """A shared library built from C code, in a temporary folder removed after the test."""
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if not cc:
            self.skipTest("no C compiler to build a fake library")
        tmp = tempfile.mkdtemp(prefix="mamlpp-fake-")
        self.addCleanup(shutil.rmtree, tmp, True)
        src = os.path.join(tmp, "fake.c")
        with open(src, "w") as f:
            f.write("#include <stdint.h>\n" + textwrap.dedent(code))
        lib = os.path.join(tmp, name)
        subprocess.check_call([cc, "-shared", "-fPIC", src, "-o", lib])
        return lib

    def test_wrong_abi_is_refused(self):
        lib = self.fake_library("int32_t maml_abi_version(void) { return 2; }", "libmamlpp.so.2")
        rc, out, err = run_import(lib)
        self.assertNotEqual(rc, 0)
        self.assertIn("ImportError", err)
        self.assertIn("ABI version 2", err)
        self.assertIn("ABI version 1", err)

    def test_older_library_is_refused(self):
        # ABI 1 but 1.0.3: older than the newest call and field this binding mirrors.
        lib = self.fake_library("""
            int32_t maml_abi_version(void) { return 1; }
            int32_t maml_version_number(void) { return 10003; }
        """, "libmamlpp.so.1")
        rc, out, err = run_import(lib)
        self.assertNotEqual(rc, 0)
        self.assertIn("ImportError", err)
        self.assertIn("libmamlpp 1.0.3", err)
        self.assertIn("needs 1.1.0 or later", err)

    def test_library_from_environment(self):
        lib = os.environ.get("MAMLPP_LIBRARY")
        if not lib:
            self.skipTest("MAMLPP_LIBRARY is not set")
        rc, out, err = run_import(lib, "import mamlpp; print(mamlpp.library_path)")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out.strip(), lib)


if __name__ == "__main__":
    unittest.main()
