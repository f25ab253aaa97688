"""User metadata through the Python binding: methods, the mapping view, files and buffers."""
import os
import shutil
import tempfile
import unittest

from helpers import tiny_config

import mamlpp

UNICODE = u"Zo\u00eb \u2713 \U0001F600 tab\tnewline\n\"q\" \\"


class MetadataTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="mamlpp-py-md-")
        self.model = mamlpp.Model(tiny_config())

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def fill(self, m):
        m.set_metadata("mamlpp.preprocessing", '{"invert":true}')
        m.metadata["author"] = UNICODE
        m.metadata["empty"] = ""

    def check_filled(self, m):
        self.assertEqual(m.metadata_keys(), ["author", "empty", "mamlpp.preprocessing"])
        self.assertEqual(dict(m.metadata), {"author": UNICODE, "empty": "",
                                            "mamlpp.preprocessing": '{"invert":true}'})
        self.assertIsNone(m.get_metadata("absent"))
        self.assertEqual(m.get_metadata("absent", "d"), "d")

    def test_empty(self):
        self.assertEqual(self.model.metadata_keys(), [])
        self.assertEqual(len(self.model.metadata), 0)
        self.assertNotIn("x", self.model.metadata)
        with self.assertRaises(KeyError):
            self.model.metadata["x"]

    def test_set_get_remove(self):
        m = self.model
        self.fill(m)
        self.check_filled(m)
        self.assertIn("author", m.metadata)
        m.metadata["empty"] = "now set"
        self.assertEqual(m.get_metadata("empty"), "now set")
        del m.metadata["empty"]
        self.assertNotIn("empty", m.metadata)
        with self.assertRaises(KeyError):
            del m.metadata["empty"]
        m.set_metadata("empty", None)  # removing an absent key is fine
        m.metadata.update({"a": "1", "b": "2"})
        self.assertEqual(list(m.metadata), ["a", "author", "b", "mamlpp.preprocessing"])

    def test_round_trips(self):
        self.fill(self.model)
        path = os.path.join(self.tmp, "m.maml")
        for inference_only in (False, True):
            self.model.save(path, inference_only=inference_only)
            self.check_filled(mamlpp.Model.load(path, device="cpu"))
            data = self.model.to_bytes(inference_only=inference_only)
            self.check_filled(mamlpp.Model.from_bytes(data, device="cpu"))
        plain = mamlpp.Model(tiny_config())
        self.assertEqual(mamlpp.Model.from_bytes(plain.to_bytes()).metadata_keys(), [])

    def test_errors_change_nothing(self):
        m = self.model
        self.fill(m)
        bad = [("", "v", "must not be empty"), ("a b", "v", "ASCII letters"),
               ("step", "v", "reserved"), ("libmamlpp.x", "v", "reserved"),
               ("k" * 129, "v", "at most 128"), ("author", "bell\x07", "control character"),
               ("author", "v" * 65537, "at most 65536")]
        for key, value, needle in bad:
            with self.assertRaises(mamlpp.InvalidArgumentError) as cm:
                m.set_metadata(key, value)
            self.assertIn(needle, str(cm.exception))
        with self.assertRaises(mamlpp.InvalidArgumentError):
            m.get_metadata("config")
        with self.assertRaises(ValueError):  # C strings end at NUL: never silently cut
            m.set_metadata("author", "a\x00b")
        with self.assertRaises(ValueError):
            m.get_metadata("auth\x00or")
        with self.assertRaises(TypeError):
            m.set_metadata("k", 5)
        with self.assertRaises(TypeError):
            m.set_metadata(b"k", "v")
        with self.assertRaises(TypeError):
            m.metadata["k"] = None
        self.check_filled(m)
        for i in range(253):
            m.metadata["k%03d" % i] = "v"
        with self.assertRaises(mamlpp.InvalidArgumentError) as cm:
            m.metadata["one.more"] = "v"
        self.assertIn("at most 256", str(cm.exception))
        self.assertEqual(len(m.metadata), 256)


if __name__ == "__main__":
    unittest.main()
