#!/usr/bin/env python3
"""Checks the Julia binding against include/mamlpp/mamlpp.h without Julia (Python 3 stdlib only).

    check_julia_binding.py [--header include/mamlpp/mamlpp.h] [--src bindings/julia/src] [-v]

It fails (exit 1) if:

* a ``ccall``/``@ccall`` of a ``maml_*`` function (or any call into ``libmamlpp``) names a function
  the header does not declare with ``MAML_API``;
* the tuple of argument types has a different length from the C parameter list (``f(void)`` has
  none), or the number of arguments passed differs from the number of argument types;
* a return or argument type is not the Julia type of the C type (``int32_t``/``maml_status`` ->
  ``Int32``/``Cint``, ``int64_t`` -> ``Int64``, ``size_t`` -> ``Csize_t``, ``float`` ->
  ``Cfloat``/``Float32``, ``void`` -> ``Cvoid``, ``T*`` -> ``Ptr{T'}``/``Ref{T'}``, ``const char*``
  -> ``Cstring``/``Ptr{UInt8}``, opaque handles -> ``Ptr{Cvoid}``, public structs -> their mirror,
  a fixed-size array field ``T[n]`` -> ``NTuple{n,T'}``);
* a public C struct (``typedef struct ... maml_xxx;``) has no Julia mirror (``struct MamlXxx``), or
  the mirror's field names, order or types differ from the C struct's.

Functions of the header that the binding does not call are listed (with -v) but are not errors.
"""
import argparse
import glob
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "layout"))
import mamlpp_header  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))

# C scalar type -> Julia spellings accepted for it.
SCALARS = {
    "int32_t": {"Int32", "Cint"},
    "maml_status": {"Int32", "Cint"},
    "uint32_t": {"UInt32", "Cuint"},
    "int64_t": {"Int64", "Clonglong"},
    "uint64_t": {"UInt64", "Culonglong"},
    "size_t": {"Csize_t", "UInt", "UInt64"},
    "float": {"Cfloat", "Float32"},
    "double": {"Cdouble", "Float64"},
    "char": {"UInt8", "Cchar", "Int8", "Cuchar"},
    "void": {"Cvoid", "Nothing"},
}
# The header's opaque handles (``typedef struct x x;`` without fields), passed as Ptr{Cvoid}.
OPAQUE = {"maml_model", "maml_learner", "maml_group"}


def julia_struct_name(c_name):
    """maml_config -> MamlConfig."""
    return "".join(part.capitalize() for part in c_name.split("_"))


# ------------------------------------------------------------------------------------------------
# Julia source scanning
# ------------------------------------------------------------------------------------------------


def strip_julia_comments(text):
    """Blanks out # and #= =# comments and docstrings (keeping newlines and other strings)."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith('"""', i):  # docstrings: prose, may mention ccall(...); blanked
            j = text.find('"""', i + 3)
            j = n if j < 0 else j + 3
            out.append('"""' + re.sub(r"[^\n]", " ", text[i + 3:j - 3]) + '"""')
            i = j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text[i] == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):  # char literal
            m = re.match(r"'(\\.|[^\\'])'", text[i:i + 4])
            out.append(m.group(0))
            i += len(m.group(0))
        elif text.startswith("#=", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("#=", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("=#", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text[i] == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _matching(text, i, open_c, close_c):
    """Index just past the bracket closing the one at text[i] (skipping string literals)."""
    depth, j, n = 0, i, len(text)
    while j < n:
        c = text[j]
        if c == '"':
            k = j + 1
            while k < n and text[k] != '"':
                k += 2 if text[k] == "\\" else 1
            j = k + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                if c != close_c:
                    raise ValueError("mismatched brackets near %r" % text[i:j + 1][:80])
                return j + 1
        j += 1
    raise ValueError("unbalanced brackets near %r" % text[i:i + 80])


def split_args(s):
    """Splits at top-level commas (outside (), [], {} and strings); strips; drops empty tail."""
    parts, depth, cur, i = [], 0, [], 0
    while i < len(s):
        c = s[i]
        if c == '"':
            j = i + 1
            while j < len(s) and s[j] != '"':
                j += 2 if s[j] == "\\" else 1
            cur.append(s[i:j + 1])
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        if c == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    tail = "".join(cur).strip()
    if tail:
        parts.append(tail)
    return parts


def _line_of(text, index):
    return text.count("\n", 0, index) + 1


class Call(object):
    """One ccall: the function symbol, library expression, return type, argument types, and the
    number of arguments passed; with the file and line for messages."""

    def __init__(self, where, symbol, library, ret, argtypes, nargs):
        self.where, self.symbol, self.library = where, symbol, library
        self.ret, self.argtypes, self.nargs = ret, argtypes, nargs


def parse_ccalls(text, filename="<julia>"):
    """Every ccall(...) and @ccall ... in Julia source text."""
    code = strip_julia_comments(text)
    calls = []
    for m in re.finditer(r"(?<![\w@.])ccall\s*\(", code):
        start = m.end() - 1
        end = _matching(code, start, "(", ")")
        args = split_args(code[start + 1:end - 1])
        where = "%s:%d" % (filename, _line_of(code, m.start()))
        if len(args) < 3:
            raise ValueError("%s: cannot parse ccall with %d arguments" % (where, len(args)))
        target = args[0]
        fm = re.match(r"^\(\s*:(\w+)\s*,\s*(.+?)\s*\)$", target, re.S)
        if fm:
            symbol, library = fm.group(1), fm.group(2)
        else:
            sm = re.match(r"^:(\w+)$", target)
            if not sm:
                calls.append(Call(where, None, target, args[1], None, len(args) - 3))
                continue
            symbol, library = sm.group(1), None
        ret = args[1]
        tup = args[2].strip()
        if not (tup.startswith("(") and tup.endswith(")")):
            raise ValueError("%s: the argument types of ccall(:%s) are not a literal tuple: %s"
                             % (where, symbol, tup))
        inner = tup[1:-1].strip()
        argtypes = split_args(inner) if inner else []
        if len(argtypes) == 1 and not inner.rstrip().endswith(",") and "," not in inner:
            # (T) is just T in Julia, not a 1-tuple: a classic mistake
            raise ValueError("%s: ccall(:%s) argument types (%s) are not a tuple; write (%s,)"
                             % (where, symbol, inner, inner))
        calls.append(Call(where, symbol, library, ret, argtypes, len(args) - 3))
    for m in re.finditer(r"@ccall\s+", code):
        i = m.end()
        nm = re.match(r"(?:([\w.]+)\.)?(\w+)\s*\(", code[i:])
        where = "%s:%d" % (filename, _line_of(code, m.start()))
        if not nm:
            raise ValueError("%s: cannot parse @ccall" % where)
        library, symbol = nm.group(1), nm.group(2)
        start = i + nm.end() - 1
        end = _matching(code, start, "(", ")")
        inner = code[start + 1:end - 1]
        fixed = inner.split(";")[0]
        params = split_args(fixed)
        argtypes = [p.split("::", 1)[1].strip() if "::" in p else "Any" for p in params]
        rm = re.match(r"\s*::\s*([\w{}.,\s]+?)(?=\s*(\n|$|\)|,|;|end\b))", code[end:])
        ret = rm.group(1).strip() if rm else "Cvoid"
        calls.append(Call(where, symbol, library, ret, argtypes, len(argtypes)))
    return calls


def parse_structs(text):
    """{name: [(field, type)]} for every (non-mutable or mutable) struct with plain fields."""
    code = strip_julia_comments(text)
    structs = {}
    lines = code.split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(?:mutable\s+)?struct\s+(\w+)", lines[i])
        if not m:
            i += 1
            continue
        indent, name = m.group(1), m.group(2)
        fields, depth = [], 0
        i += 1
        while i < len(lines):
            line = lines[i]
            stripped = line.strip()
            if depth == 0 and stripped == "end" and line.startswith(indent) and \
                    len(line) - len(line.lstrip()) == len(indent):
                break
            if re.match(r"^(function|if|for|while|let|begin|try|do)\b", stripped) or \
                    re.search(r"\bdo\b(\s+\w+)?\s*$", stripped):
                depth += 1
            elif stripped == "end":
                depth -= 1
            elif depth == 0:
                fm = re.match(r"^(\w+)\s*::\s*(.+?)\s*$", stripped)
                if fm:
                    fields.append((fm.group(1), fm.group(2)))
            i += 1
        structs[name] = fields
        i += 1
    return structs


# ------------------------------------------------------------------------------------------------
# Type compatibility
# ------------------------------------------------------------------------------------------------


def _unwrap(jtype, wrapper):
    m = re.match(r"^%s\{(.+)\}$" % wrapper, jtype.strip())
    return m.group(1).strip() if m else None


def c_type_ok(ctype, jtype, header, top=True):
    """True if Julia type jtype may stand for C type ctype."""
    ctype = ctype.replace("const ", "").strip()
    jtype = re.sub(r"\s+", "", jtype)
    jtype = re.sub(r"^(Base\.|Core\.)", "", jtype)
    elem, count = mamlpp_header.array_type(ctype)
    if count is not None:  # a struct's array field: NTuple{n,T} is laid out as T[n]
        m = re.match(r"^NTuple\{(\d+),(.+)\}$", jtype)
        return bool(m) and int(m.group(1)) == count and c_type_ok(elem, m.group(2), header, False)
    if ctype.endswith("*"):
        pointee = ctype[:-1].strip()
        if top and pointee == "char" and jtype == "Cstring":
            return True
        inner = _unwrap(jtype, "Ptr") or _unwrap(jtype, "Ref")
        if inner is None:
            return False
        if pointee == "void":
            return True
        if pointee in OPAQUE:
            return inner in ("Cvoid", "Nothing")
        if pointee in header.structs:
            return inner in (julia_struct_name(pointee), "Cvoid", "Nothing")
        return c_type_ok(pointee, inner, header, top=False)
    if ctype in SCALARS:
        return jtype in SCALARS[ctype]
    return False


def _param_type(param):
    """'const float* support_x' -> 'const float*'."""
    m = re.match(r"^(.*?)([A-Za-z_]\w*)$", param.strip())
    return m.group(1).strip() if m and m.group(1).strip() else param.strip()


# ------------------------------------------------------------------------------------------------
# The check
# ------------------------------------------------------------------------------------------------


def check(header, sources, verbose=False):
    """Problems (a list of strings) of the Julia sources ({filename: text}) against header."""
    problems, called = [], set()
    julia_structs = {}
    for filename, text in sorted(sources.items()):
        try:
            calls = parse_ccalls(text, filename)
        except ValueError as e:
            problems.append(str(e))
            continue
        julia_structs.update(parse_structs(text))
        for c in calls:
            lib_is_ours = c.library is not None and "mamlpp" in c.library
            if c.symbol is None:
                if lib_is_ours:
                    problems.append("%s: cannot read the function of a ccall into libmamlpp" % c.where)
                continue
            if not (c.symbol.startswith("maml_") or lib_is_ours):
                continue
            called.add(c.symbol)
            f = header.functions.get(c.symbol)
            if f is None:
                problems.append("%s: %s is not declared in the header" % (c.where, c.symbol))
                continue
            if len(c.argtypes) != f.arity:
                problems.append("%s: %s takes %d parameters in the header, the ccall lists %d "
                                "argument types" % (c.where, c.symbol, f.arity, len(c.argtypes)))
                continue
            if c.nargs != len(c.argtypes):
                problems.append("%s: %s: %d argument types but %d arguments passed"
                                % (c.where, c.symbol, len(c.argtypes), c.nargs))
            if not c_type_ok(f.return_type, c.ret, header):
                problems.append("%s: %s returns %s, the ccall says %s"
                                % (c.where, c.symbol, f.return_type, c.ret))
            for k, (param, jt) in enumerate(zip(f.params, c.argtypes)):
                ct = _param_type(param)
                if not c_type_ok(ct, jt, header):
                    problems.append("%s: %s parameter %d (%s) is %s in C, %s in the ccall"
                                    % (c.where, c.symbol, k + 1, param, ct, jt))
    for cname, cfields in header.structs.items():
        jname = julia_struct_name(cname)
        if jname not in julia_structs:
            problems.append("struct %s has no Julia mirror `struct %s`" % (cname, jname))
            continue
        jfields = julia_structs[jname]
        if [f.name for f in cfields] != [n for n, _ in jfields]:
            problems.append("struct %s: fields differ from %s\n  C:     %s\n  Julia: %s"
                            % (jname, cname, [f.name for f in cfields], [n for n, _ in jfields]))
            continue
        for f, (_, jt) in zip(cfields, jfields):
            if not c_type_ok(f.type, jt, header):
                problems.append("struct %s: field %s is %s in C, %s in Julia" % (jname, f.name, f.type, jt))
    if verbose:
        unbound = [n for n in header.functions if n not in called]
        print("called %d of %d header functions%s" % (len(called & set(header.functions)),
                                                      len(header.functions),
                                                      "; not called: " + ", ".join(unbound) if unbound else ""))
    return problems


def read_sources(src_dir):
    out = {}
    for path in sorted(glob.glob(os.path.join(src_dir, "**", "*.jl"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            out[os.path.relpath(path, REPO) if path.startswith(REPO) else path] = f.read()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="Check the Julia binding's ccalls against mamlpp.h")
    ap.add_argument("--header", default=os.path.join(REPO, "include", "mamlpp", "mamlpp.h"))
    ap.add_argument("--src", default=os.path.join(REPO, "bindings", "julia", "src"))
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    header = mamlpp_header.parse_header_file(a.header)
    sources = read_sources(a.src)
    if not sources:
        print("FAIL: no .jl files under %s" % a.src)
        return 1
    problems = check(header, sources, a.verbose)
    for p in problems:
        print("FAIL:", p)
    if not problems:
        n = sum(len(parse_ccalls(t)) for t in sources.values())
        print("Julia binding OK: %d ccalls in %d files match %s" % (n, len(sources), a.header))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
