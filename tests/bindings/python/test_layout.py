"""The ctypes struct mirrors must have exactly the C layout: sizeof, alignment, field names,
order, offsets and sizes, as printed by tests/bindings/layout's mamlpp_layout program.

The layout JSON comes from MAMLPP_LAYOUT_JSON (a file), else MAMLPP_LAYOUT_PROGRAM (run it), else
the program is compiled here from the header with `cc` (skipped if there is no C compiler).
"""
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import helpers

from mamlpp import _native

sys.path.insert(0, os.path.join(helpers.REPO_ROOT, "tests", "bindings", "layout"))
import mamlpp_header  # noqa: E402

MIRRORS = {"maml_config": _native.maml_config, "maml_tasks": _native.maml_tasks,
           "maml_metrics": _native.maml_metrics}

# C type (as the layout program and the header spell it) -> the ctypes type a mirror must use.
C_TO_CTYPES = {
    "uint32_t": ctypes.c_uint32, "int32_t": ctypes.c_int32, "int64_t": ctypes.c_int64,
    "uint64_t": ctypes.c_uint64, "float": ctypes.c_float,
    "const float*": ctypes.POINTER(ctypes.c_float), "const int32_t*": ctypes.POINTER(ctypes.c_int32),
}


def load_layout():
    path, program = helpers.layout_json_path_or_program()
    if path:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    if not program:
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if not cc:
            raise unittest.SkipTest("no layout JSON/program given and no C compiler to build one")
        tmp = tempfile.mkdtemp(prefix="mamlpp-layout-")
        program = os.path.join(tmp, "mamlpp_layout")
        src = os.path.join(helpers.REPO_ROOT, "tests", "bindings", "layout", "mamlpp_layout.c")
        subprocess.check_call([cc, "-std=c99", "-I", os.path.join(helpers.REPO_ROOT, "include"),
                               src, "-o", program])
    return json.loads(subprocess.check_output([program]).decode("utf-8"))


class LayoutTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.layout = load_layout()

    def test_every_public_struct_is_mirrored(self):
        header = mamlpp_header.parse_header_file(
            os.path.join(helpers.REPO_ROOT, "include", "mamlpp", "mamlpp.h"))
        self.assertEqual(sorted(self.layout["structs"]), sorted(header.structs))
        self.assertEqual(sorted(MIRRORS), sorted(header.structs))
        self.assertEqual(self.layout["abi_version"], _native.ABI_VERSION)
        self.assertEqual(self.layout["pointer_size"], ctypes.sizeof(ctypes.c_void_p))

    def test_mirrors_match_c(self):
        for name, mirror in MIRRORS.items():
            with self.subTest(struct=name):
                c = self.layout["structs"][name]
                self.assertEqual(ctypes.sizeof(mirror), c["size"])
                self.assertEqual(ctypes.alignment(mirror), c["align"])
                self.assertEqual([f[0] for f in mirror._fields_], [f["name"] for f in c["fields"]])
                for (fname, ftype), cf in zip(mirror._fields_, c["fields"]):
                    desc = getattr(mirror, fname)
                    self.assertEqual(desc.offset, cf["offset"], fname)
                    self.assertEqual(desc.size, cf["size"], fname)
                    elem, count = mamlpp_header.array_type(cf["type"])
                    if count is None:
                        self.assertIs(ftype, C_TO_CTYPES[cf["type"]], fname)
                    else:  # int32_t[8] -> c_int32 * 8
                        self.assertTrue(issubclass(ftype, ctypes.Array), fname)
                        self.assertIs(ftype._type_, C_TO_CTYPES[elem], fname)
                        self.assertEqual(ftype._length_, count, fname)

    def test_mirrors_match_the_header(self):
        # Names and types straight from mamlpp.h too, so that the mirrors are checked even where
        # the layout JSON comes from an older build of the program.
        header = mamlpp_header.parse_header_file(
            os.path.join(helpers.REPO_ROOT, "include", "mamlpp", "mamlpp.h"))
        for name, mirror in MIRRORS.items():
            with self.subTest(struct=name):
                self.assertEqual([f[0] for f in mirror._fields_],
                                 [f.name for f in header.structs[name]])
        self.assertEqual(header.constants["MAML_MAX_HIDDEN_LAYERS"], _native.MAX_HIDDEN_LAYERS)

    def test_config_init_sized_uses_the_mirror_size(self):
        cfg = _native.config_defaults()
        self.assertEqual(cfg.struct_size, self.layout["structs"]["maml_config"]["size"])


if __name__ == "__main__":
    unittest.main()
