"""Unit tests of mamlpp_header.py, the header parser the binding checks rely on."""
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_layout  # noqa: E402
import mamlpp_header as H  # noqa: E402

HEADER = os.path.join(HERE, "..", "..", "..", "include", "mamlpp", "mamlpp.h")

SAMPLE = r'''
/* MAML_API int fake_in_comment(int a); */
// MAML_API int fake_in_line_comment(int a);
#define MAML_API __attribute__((visibility("default")))
#define MAX_THINGS 6 /* an array count written as a macro */
#define NEGATIVE (-3)
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
  int32_t sized[MAX_THINGS];
  const float* tail;
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
                          ("b", "int32_t"), ("arr", "float[4]"), ("sized", "int32_t[6]"),
                          ("tail", "const float*")])

    def test_constants(self):
        self.assertEqual(self.h.constants["MAX_THINGS"], 6)
        self.assertEqual(self.h.constants["NEGATIVE"], -3)
        self.assertNotIn("MAML_API", self.h.constants)  # not an integer

    def test_array_type(self):
        self.assertEqual(H.array_type("int32_t[8]"), ("int32_t", 8))
        self.assertEqual(H.array_type("const float*"), ("const float*", None))
        with self.assertRaises(ValueError):
            H.array_type("int32_t[N]")

    def test_unknown_array_count_is_an_error(self):
        with self.assertRaises(ValueError) as cm:
            H.parse_header("typedef struct a { int32_t x[UNDEFINED]; } a;\n")
        self.assertIn("a.x", str(cm.exception))

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
        # 1.3: the MLP backbone and regression, with an array field; the tasks' target pointers.
        config = [(f.name, f.type) for f in h.structs["maml_config"]]
        self.assertEqual(config[-10:],
                         [("adapt_last_layers", "int32_t"), ("backbone", "int32_t"),
                          ("input_features", "int32_t"), ("hidden_layers", "int32_t"),
                          ("hidden_sizes", "int32_t[%d]" % h.constants["MAML_MAX_HIDDEN_LAYERS"]),
                          ("activation", "int32_t"), ("task_kind", "int32_t"),
                          ("n_outputs", "int32_t"), ("batch_norm", "int32_t"),
                          ("reserved3", "int32_t")])
        self.assertEqual([(f.name, f.type) for f in h.structs["maml_tasks"]][-2:],
                         [("support_t", "const float*"), ("query_t", "const float*")])
        self.assertIn("maml_adapt_regression", h.functions)
        self.assertEqual(h.functions["maml_adapt_regression"].arity, 5)


def _layout_of(header, pointer_size=8):
    """The layout a C compiler would make of the header's structs (natural alignment, no
    packing): the JSON mamlpp_layout prints, computed here so the checker can be tested alone."""
    structs = {}
    for name, fields in header.structs.items():
        offset, align, out = 0, 1, []
        for f in fields:
            size, unit = check_layout.type_size(f.type, pointer_size)
            offset = (offset + unit - 1) // unit * unit
            out.append({"name": f.name, "type": f.type, "offset": offset, "size": size})
            offset += size
            align = max(align, unit)
        structs[name] = {"size": (offset + align - 1) // align * align, "align": align,
                         "fields": out}
    return {"format": 1, "abi_version": 1, "version": "x", "pointer_size": pointer_size,
            "structs": structs}


class CheckLayoutTest(unittest.TestCase):
    """check_layout.check must accept the header's own layout and catch what would mislead a
    binding's mirror, arrays included."""

    @classmethod
    def setUpClass(cls):
        cls.header = H.parse_header_file(HEADER)

    def layout(self):
        return _layout_of(self.header)

    def field(self, layout, struct, name):
        return next(f for f in layout["structs"][struct]["fields"] if f["name"] == name)

    def test_sizes_of_the_1_3_structs(self):
        layout = self.layout()
        self.assertEqual(check_layout.check(layout, self.header), [])
        self.assertEqual(layout["structs"]["maml_config"]["size"], 208)
        self.assertEqual(layout["structs"]["maml_tasks"]["size"], 64)
        self.assertEqual(layout["structs"]["maml_metrics"]["size"], 40)
        self.assertEqual(self.field(layout, "maml_config", "hidden_sizes")["size"], 32)

    def test_type_sizes(self):
        self.assertEqual(check_layout.type_size("int32_t[8]", 8), (32, 4))
        self.assertEqual(check_layout.type_size("const float*", 4), (4, 4))
        self.assertEqual(check_layout.type_size("uint64_t", 8), (8, 8))
        self.assertIsNone(check_layout.type_size("long double", 8))

    def test_wrong_array_size_is_caught(self):
        layout = self.layout()
        self.field(layout, "maml_config", "hidden_sizes")["size"] = 4  # one element, not 8
        problems = check_layout.check(layout, self.header)
        self.assertTrue(any("maml_config.hidden_sizes: size 4" in p for p in problems), problems)

    def test_array_spelled_as_a_scalar_is_caught(self):
        layout = self.layout()
        self.field(layout, "maml_config", "hidden_sizes")["type"] = "int32_t"
        problems = check_layout.check(layout, self.header)
        self.assertTrue(any("maml_config: fields differ" in p for p in problems), problems)

    def test_missing_new_field_is_caught(self):
        layout = self.layout()
        fields = layout["structs"]["maml_tasks"]["fields"]
        layout["structs"]["maml_tasks"]["fields"] = fields[:-1]  # query_t forgotten
        problems = check_layout.check(layout, self.header)
        self.assertTrue(any("maml_tasks: fields differ" in p for p in problems), problems)
        self.assertTrue(any("last listed field ends at 56" in p for p in problems), problems)

    def test_misaligned_array_is_caught(self):
        layout = self.layout()
        self.field(layout, "maml_config", "hidden_sizes")["offset"] += 2
        problems = check_layout.check(layout, self.header)
        self.assertTrue(any("hidden_sizes: offset" in p and "not aligned" in p for p in problems),
                        problems)


if __name__ == "__main__":
    unittest.main()
