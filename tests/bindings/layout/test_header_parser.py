"""Unit tests of mamlpp_header.py, the header parser the binding checks rely on."""
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mamlpp_header as H  # noqa: E402

HEADER = os.path.join(HERE, "..", "..", "..", "include", "mamlpp", "mamlpp.h")

SAMPLE = r'''
/* MAML_API int fake_in_comment(int a); */
// MAML_API int fake_in_line_comment(int a);
#define MAML_API __attribute__((visibility("default")))
#define LONG_MACRO(x) \
  MAML_API int fake_in_macro(int a);
typedef int32_t maml_status;
MAML_API const char* maml_none(void);
MAML_API int32_t maml_empty();
MAML_API maml_status maml_multi(const maml_model* model,
                                const float* x,   /* inline comment, with a comma */
                                int32_t n,
                                maml_learner** out);
MAML_API void   maml_spaces ( void * data ) ;
typedef struct thing {
  uint32_t struct_size; /**< sizeof(thing), a, b */
  const float* p;
  int32_t a, b;
  float arr[4];
} thing;
typedef struct handle handle;   /* opaque: declared, never defined */
typedef struct later later;     /* the typedef first, the fields further down */
MAML_API void maml_uses_later(const later* l);
struct later {
  uint32_t struct_size;
  int64_t step;
};
'''


class SampleTest(unittest.TestCase):
    def setUp(self):
        self.h = H.parse_header(SAMPLE)

    def test_only_real_declarations(self):
        self.assertEqual(sorted(self.h.functions),
                         ["maml_empty", "maml_multi", "maml_none", "maml_spaces",
                          "maml_uses_later"])

    def test_arity(self):
        f = self.h.functions
        self.assertEqual(f["maml_none"].arity, 0)  # (void)
        self.assertEqual(f["maml_empty"].arity, 0)  # ()
        self.assertEqual(f["maml_multi"].arity, 4)  # over several lines, with a comment
        self.assertEqual(f["maml_spaces"].arity, 1)

    def test_types(self):
        f = self.h.functions
        self.assertEqual(f["maml_none"].return_type, "const char*")
        self.assertEqual(f["maml_multi"].params[3], "maml_learner** out")
        self.assertEqual(f["maml_spaces"].params, ["void* data"])

    def test_struct(self):
        self.assertEqual([(x.name, x.type) for x in self.h.structs["thing"]],
                         [("struct_size", "uint32_t"), ("p", "const float*"), ("a", "int32_t"),
                          ("b", "int32_t"), ("arr", "float[4]")])

    def test_struct_defined_after_its_typedef(self):
        self.assertEqual(list(self.h.structs), ["thing", "later"])  # not the opaque handle
        self.assertEqual([(x.name, x.type) for x in self.h.structs["later"]],
                         [("struct_size", "uint32_t"), ("step", "int64_t")])
        self.assertEqual(self.h.functions["maml_uses_later"].params, ["const later* l"])

    def test_struct_defined_twice_is_an_error(self):
        with self.assertRaises(ValueError):
            H.parse_header("typedef struct a a;\nstruct a { int32_t x; };\n"
                           "typedef struct { int32_t y; } a;\n")

    def test_duplicate_declaration_is_an_error(self):
        with self.assertRaises(ValueError):
            H.parse_header("MAML_API void maml_a(void);\nMAML_API void maml_a(int x);\n")


class RealHeaderTest(unittest.TestCase):
    def test_every_maml_api_is_parsed(self):
        with open(HEADER, encoding="utf-8") as f:
            text = f.read()
        h = H.parse_header(text)
        code = H.clean(text)
        self.assertEqual(len(h.functions), len(re.findall(r"\bMAML_API\b", code)))
        self.assertIn("maml_predict", h.functions)
        self.assertEqual(h.functions["maml_predict"].arity, 5)
        self.assertEqual(h.functions["maml_last_error"].arity, 0)
        self.assertEqual(sorted(h.structs), ["maml_config", "maml_metrics", "maml_tasks"])
        self.assertEqual(h.structs["maml_config"][0].name, "struct_size")
        self.assertEqual(h.structs["maml_config"][-1].name, "adapt_last_layers")


if __name__ == "__main__":
    unittest.main()
