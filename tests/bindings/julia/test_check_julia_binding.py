"""Unit tests of check_julia_binding.py: it passes the real binding and fails broken copies."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_julia_binding as C  # noqa: E402
import mamlpp_header  # noqa: E402  (check_julia_binding put tests/bindings/layout on the path)

REPO = C.REPO
HEADER = os.path.join(REPO, "include", "mamlpp", "mamlpp.h")
SRC = os.path.join(REPO, "bindings", "julia", "src", "MamlPP.jl")


class RealBindingTest(unittest.TestCase):
    def test_the_binding_passes(self):
        header = mamlpp_header.parse_header_file(HEADER)
        self.assertEqual(C.check(header, C.read_sources(os.path.dirname(SRC))), [])

    def test_command_line(self):
        p = subprocess.run([sys.executable, os.path.join(HERE, "check_julia_binding.py")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True)
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertIn("Julia binding OK", p.stdout)


class BrokenCopyTest(unittest.TestCase):
    """Each case edits a copy of MamlPP.jl in one way and expects a specific failure."""

    @classmethod
    def setUpClass(cls):
        with open(SRC, encoding="utf-8") as f:
            cls.source = f.read()
        cls.header = mamlpp_header.parse_header_file(HEADER)

    def broken(self, old, new, count=1):
        self.assertIn(old, self.source, "the test's anchor text is gone from MamlPP.jl")
        return self.source.replace(old, new, count)

    def broken_re(self, pattern, repl):
        """Like broken, for anchors given as a regular expression (struct fields, which may carry
        a trailing comment)."""
        text, n = re.subn(pattern, repl, self.source, count=1)
        self.assertEqual(n, 1, "the test's anchor pattern is gone from MamlPP.jl")
        return text

    def problems(self, text):
        return C.check(self.header, {"MamlPP.jl": text})

    def assertFailsWith(self, text, *needles):
        problems = self.problems(text)
        self.assertTrue(problems, "the checker accepted a broken binding")
        joined = "\n".join(problems)
        for needle in needles:
            self.assertIn(needle, joined)

    def test_missing_argument_type(self):
        text = self.broken("(Ptr{Cvoid}, Ptr{Cfloat}, Int32, Ptr{Cfloat}, Ptr{Int32}),\n"
                           "                l, fx, Int32(n), logits, labels)",
                           "(Ptr{Cvoid}, Ptr{Cfloat}, Int32, Ptr{Cfloat}),\n"
                           "                l, fx, Int32(n), logits)")
        self.assertFailsWith(text, "maml_predict takes 5 parameters in the header, the ccall lists 4")

    def test_extra_argument_type(self):
        text = self.broken("(:maml_get_step, libmamlpp), Int32, (Ptr{Cvoid}, Ptr{Int64}), m, out)",
                           "(:maml_get_step, libmamlpp), Int32, (Ptr{Cvoid}, Ptr{Int64}, Int32), m, out, 0)")
        self.assertFailsWith(text, "maml_get_step takes 2 parameters")

    def test_arguments_passed_differ_from_types(self):
        text = self.broken("(Ptr{Cvoid}, Ptr{Int64}), m, out)", "(Ptr{Cvoid}, Ptr{Int64}), m)")
        self.assertFailsWith(text, "2 argument types but 1 arguments passed")

    def test_unknown_function(self):
        text = self.broken(":maml_learner_n_way", ":maml_learner_nway")
        self.assertFailsWith(text, "maml_learner_nway is not declared in the header")

    def test_void_function_given_an_argument(self):
        text = self.broken("ccall((:maml_abi_version, libmamlpp), Int32, ())",
                           "ccall((:maml_abi_version, libmamlpp), Int32, (Int32,), 1)")
        self.assertFailsWith(text, "maml_abi_version takes 0 parameters")

    def test_wrong_integer_width(self):
        text = self.broken("(Ptr{Cvoid}, Ptr{Cfloat}, Int64),\n                m, rates, Int64(t * s))",
                           "(Ptr{Cvoid}, Ptr{Cfloat}, Int32),\n                m, rates, Int32(t * s))")
        self.assertFailsWith(text, "maml_get_inner_lrs parameter 3", "int64_t")

    def test_wrong_pointee(self):
        text = self.broken("(Ptr{Cvoid}, Ptr{Int32}, Ptr{Int32}), m, t, i)",
                           "(Ptr{Cvoid}, Ptr{Int64}, Ptr{Int32}), m, t, i)")
        self.assertFailsWith(text, "maml_get_device parameter 2")

    def test_wrong_return_type(self):
        text = self.broken("ccall((:maml_free, libmamlpp), Cvoid,", "ccall((:maml_free, libmamlpp), Int32,")
        self.assertFailsWith(text, "maml_free returns void")

    def test_one_type_without_tuple_comma(self):
        text = self.broken("(:maml_status_string, libmamlpp), Cstring, (Int32,)",
                           "(:maml_status_string, libmamlpp), Cstring, (Int32)")
        self.assertFailsWith(text, "not a tuple")

    def test_wrong_handle_pointee(self):
        # maml_group* is an opaque handle (Ptr{Cvoid}); a struct mirror there is a mistake.
        text = self.broken("(Ptr{Cvoid}, Ptr{Cdouble}, Int64),", "(Ptr{MamlConfig}, Ptr{Cdouble}, Int64),")
        self.assertFailsWith(text, "maml_group_allreduce_sum parameter 1")
        text = self.broken("(Ptr{Cvoid}, Ptr{Cdouble}, Int64),", "(Ptr{Cvoid}, Ptr{Cfloat}, Int64),")
        self.assertFailsWith(text, "maml_group_allreduce_sum parameter 2", "double")

    def test_struct_field_order(self):
        text = self.broken_re(r"( +image_height::Int32[^\n]*\n)( +image_width::Int32[^\n]*\n)",
                              r"\2\1")
        self.assertFailsWith(text, "struct MamlConfig: fields differ")

    def test_struct_field_missing(self):
        text = self.broken_re(r" +num_threads::Int32[^\n]*\n", "")
        self.assertFailsWith(text, "struct MamlConfig: fields differ")

    def test_struct_field_type(self):
        text = self.broken("    step::Int64\n    epoch::Int64\n", "    step::Int32\n    epoch::Int64\n")
        self.assertFailsWith(text, "struct MamlMetrics: field step is int64_t in C, Int32 in Julia")

    def test_struct_pointer_field_type(self):
        text = self.broken("    support_y::Ptr{Int32}\n", "    support_y::Ptr{Cfloat}\n")
        self.assertFailsWith(text, "field support_y")

    def test_struct_array_field_length(self):
        # hidden_sizes is int32_t[8]: an NTuple of another length, or a scalar, is caught.
        text = self.broken("    hidden_sizes::NTuple{8,Int32}\n", "    hidden_sizes::NTuple{7,Int32}\n")
        self.assertFailsWith(text, "struct MamlConfig: field hidden_sizes is int32_t[8] in C, "
                                   "NTuple{7,Int32} in Julia")
        text = self.broken("    hidden_sizes::NTuple{8,Int32}\n", "    hidden_sizes::NTuple{8,Int64}\n")
        self.assertFailsWith(text, "field hidden_sizes is int32_t[8]")
        text = self.broken("    hidden_sizes::NTuple{8,Int32}\n", "    hidden_sizes::Int32\n")
        self.assertFailsWith(text, "field hidden_sizes is int32_t[8]")
        good = self.broken("    hidden_sizes::NTuple{8,Int32}\n", "    hidden_sizes::NTuple{8, Cint}\n")
        self.assertEqual(self.problems(good), [])

    def test_struct_new_tasks_field_missing(self):
        text = self.broken_re(r" +query_t::Ptr\{Cfloat\}[^\n]*\n", "")
        self.assertFailsWith(text, "struct MamlTasks: fields differ")

    def test_struct_mirror_missing(self):
        text = self.broken("struct MamlTasks\n", "struct MamlTaskz\n")
        self.assertFailsWith(text, "struct maml_tasks has no Julia mirror")

    def test_commented_out_call_is_ignored(self):
        text = self.source + "\n# ccall((:maml_nonexistent, libmamlpp), Cvoid, ())\n" \
                             "#= ccall((:maml_nonexistent2, libmamlpp), Cvoid, ()) =#\n"
        self.assertEqual(self.problems(text), [])

    def test_at_ccall_form(self):
        good = self.source + "\nf(m) = @ccall libmamlpp.maml_get_step(m::Ptr{Cvoid}, out::Ptr{Int64})::Int32\n"
        self.assertEqual(self.problems(good), [])
        bad = self.source + "\nf(m) = @ccall libmamlpp.maml_get_step(m::Ptr{Cvoid})::Int32\n"
        self.assertFailsWith(bad, "maml_get_step takes 2 parameters")

    def test_header_change_is_caught(self):
        # A parameter added to the header (a new ABI) makes the unchanged binding fail.
        with open(HEADER, encoding="utf-8") as f:
            text = f.read()
        old = "MAML_API maml_status maml_get_step(const maml_model* model, int64_t* out);"
        self.assertIn(old, text)
        changed = mamlpp_header.parse_header(text.replace(
            old, "MAML_API maml_status maml_get_step(const maml_model* model,\n    int32_t flags, int64_t* out);"))
        problems = C.check(changed, {"MamlPP.jl": self.source})
        self.assertTrue(any("maml_get_step takes 3 parameters" in p for p in problems), problems)

    def test_command_line_fails_on_a_broken_copy(self):
        tmp = tempfile.mkdtemp(prefix="mamlpp-julia-check-")
        try:
            os.makedirs(os.path.join(tmp, "src"))
            with open(os.path.join(tmp, "src", "MamlPP.jl"), "w", encoding="utf-8") as f:
                f.write(self.broken(":maml_adapt,", ":maml_adapt_one,"))
            p = subprocess.run([sys.executable, os.path.join(HERE, "check_julia_binding.py"),
                                "--src", os.path.join(tmp, "src")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True)
            self.assertEqual(p.returncode, 1, p.stdout)
            self.assertIn("maml_adapt_one is not declared", p.stdout)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
