"""A small parser for include/mamlpp/mamlpp.h (Python 3 standard library only).

It understands exactly what the header's conventions allow: C99 declarations of the form
``MAML_API <return type> <name>(<parameters>);`` (possibly over several lines), and
``typedef struct <tag> { <fields> } <name>;`` or ``typedef struct <tag> <name>;`` with
``struct <tag> { <fields> };``, with one field per declaration (a comma-separated list of
declarators is also accepted). A field may be a fixed-size array, ``int32_t hidden_sizes[8];``:
its type is then spelled ``int32_t[8]`` (element type, then the count in brackets); a count
written as a macro (``[MAML_MAX_HIDDEN_LAYERS]``) is replaced by the integer the header
``#define``s it to. Comments and preprocessor lines are removed first, so commented-out
declarations do not count. Used by the binding checks (layout, Julia ccall arity).

    >>> import mamlpp_header as H
    >>> h = H.parse_header(open("include/mamlpp/mamlpp.h").read())
    >>> h.functions["maml_predict"].arity
    5
    >>> [f.name for f in h.structs["maml_metrics"]][:2]
    ['struct_size', 'loss']
    >>> [f.type for f in h.structs["maml_config"] if f.name == "hidden_sizes"]
    ['int32_t[8]']
    >>> H.array_type("int32_t[8]"), H.array_type("float")
    (('int32_t', 8), ('float', None))
"""

import collections
import re

Function = collections.namedtuple("Function", "name return_type params arity")
Field = collections.namedtuple("Field", "name type")
Header = collections.namedtuple("Header", "functions structs constants")
Header.__new__.__defaults__ = (collections.OrderedDict(),)  # constants: optional when building one


def strip_comments(text):
    """Removes /* */ and // comments (string literals in the header contain neither)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':  # copy a string literal verbatim
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise ValueError("unterminated comment")
            out.append(" " if "\n" not in text[i:j] else "\n" * text.count("\n", i, j))
            i = j + 2
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip_preprocessor(text):
    """Removes preprocessor directives, including their backslash-continued lines."""
    lines = text.split("\n")
    out, cont = [], False
    for line in lines:
        if cont or line.lstrip().startswith("#"):
            cont = line.rstrip().endswith("\\")
            out.append("")
        else:
            out.append(line)
    return "\n".join(out)


_DEFINE_INT = re.compile(r"^\s*#\s*define\s+(?P<name>[A-Za-z_]\w*)\s+\(?\s*(?P<value>[-+]?\d+)\s*\)?\s*$",
                         re.M)


def parse_constants(text):
    """{name: int} for every ``#define NAME <integer>`` (or ``(<integer>)``) of the header text
    (comments removed first), e.g. ``MAML_MAX_HIDDEN_LAYERS``: 8, ``MAML_E_IO``: -2."""
    out = collections.OrderedDict()
    for m in _DEFINE_INT.finditer(strip_comments(text)):
        out[m.group("name")] = int(m.group("value"))
    return out


def array_type(ctype):
    """(element type, count) of an array type as this module spells it (``"int32_t[8]"`` ->
    ``("int32_t", 8)``); (ctype, None) for any other type. A count that is not an integer (an
    unknown macro) raises ValueError."""
    m = re.match(r"^(?P<elem>.*?)\s*\[(?P<n>[^\]]*)\]$", ctype.strip())
    if not m:
        return ctype.strip(), None
    if not re.match(r"^\d+$", m.group("n").strip()):
        raise ValueError("array type %r: the count is not an integer" % ctype)
    return m.group("elem").strip(), int(m.group("n"))


def clean(text):
    """The header without comments and preprocessor lines."""
    return strip_preprocessor(strip_comments(text))


def split_top_level(s, sep=","):
    """Splits s at sep outside parentheses/brackets."""
    parts, depth, cur = [], 0, []
    for c in s:
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts


def _norm(s):
    s = re.sub(r"\s+", " ", s).strip()
    return re.sub(r"\s*\*\s*", "* ", s).replace("* *", "**").strip()


_FUNC = re.compile(r"\bMAML_API\b(?P<ret>[^;{}()]*?)\b(?P<name>[A-Za-z_]\w*)\s*\(", re.S)


def parse_functions(text):
    """{name: Function} for every MAML_API declaration of cleaned header text."""
    funcs = collections.OrderedDict()
    for m in _FUNC.finditer(text):
        # find the matching ')'
        i, depth = m.end(), 1
        while depth and i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        if depth:
            raise ValueError("unbalanced parentheses in the declaration of %s" % m.group("name"))
        inner = text[m.end():i - 1].strip()
        rest = text[i:].lstrip()
        if not rest.startswith(";"):
            continue  # a definition or something else; the header only declares
        if inner in ("", "void"):
            params = []
        else:
            params = [_norm(p) for p in split_top_level(inner)]
        name = m.group("name")
        if name in funcs:
            raise ValueError("%s is declared twice" % name)
        funcs[name] = Function(name, _norm(m.group("ret")), params, len(params))
    return funcs


# The two spellings of a public struct: ``typedef struct [tag] { ... } name;``, and a typedef of
# the tag (``typedef struct tag name;``, which may come first, so that calls can be declared
# before the fields) with the definition ``struct tag { ... };`` elsewhere.
_TYPEDEF_STRUCT = re.compile(
    r"\btypedef\s+struct\s+(?:\w+\s*)?\{(?P<body>[^{}]*)\}\s*(?P<name>\w+)\s*;", re.S)
_TYPEDEF_TAG = re.compile(r"\btypedef\s+struct\s+(?P<tag>\w+)\s+(?P<name>\w+)\s*;")
_STRUCT_DEF = re.compile(r"(?<!\w)struct\s+(?P<tag>\w+)\s*\{(?P<body>[^{}]*)\}\s*;", re.S)


def _array_count(arr, constants, struct_name, field):
    """'[8]' or '[MACRO]' -> '[8]'; '' stays ''."""
    if not arr:
        return ""
    n = arr[1:-1].strip()
    if re.match(r"^\d+$", n):
        return "[%d]" % int(n)
    if n in constants:
        return "[%d]" % constants[n]
    raise ValueError("%s.%s: array size %r is neither an integer nor a #define of one"
                     % (struct_name, field, n))


def _parse_fields(body, struct_name, constants=None):
    fields = []
    for decl in body.split(";"):
        decl = decl.strip()
        if not decl:
            continue
        declarators = split_top_level(decl)
        first = re.match(r"(?P<type>.*?)(?P<decl>[\s*]*[A-Za-z_]\w*\s*(\[[^\]]*\])?)$",
                         declarators[0].strip(), re.S)
        if not first:
            raise ValueError("cannot parse field %r of %s" % (decl, struct_name))
        base = first.group("type").strip()
        for d in [first.group("decl")] + declarators[1:]:
            dm = re.match(r"\s*(?P<stars>[\s*]*)(?P<name>[A-Za-z_]\w*)\s*(?P<arr>\[[^\]]*\])?", d)
            stars = dm.group("stars").replace(" ", "")
            arr = _array_count(dm.group("arr"), constants or {}, struct_name, dm.group("name"))
            fields.append(Field(dm.group("name"), _norm(base + stars) + arr))
    return fields


def parse_structs(text, constants=None):
    """{typedef name: [Field...]} for every struct of cleaned text that has fields and a typedef
    name: ``typedef struct {...} name;``, or ``struct tag {...};`` with ``typedef struct tag
    name;`` (before or after it). A struct that is only declared (an opaque handle such as
    ``typedef struct maml_model maml_model;``) is not listed. In the order of the definitions.
    Array counts written as macros are looked up in constants (see parse_constants)."""
    names = dict((m.group("tag"), m.group("name")) for m in _TYPEDEF_TAG.finditer(text))
    found = []
    for m in _TYPEDEF_STRUCT.finditer(text):
        found.append((m.start(), m.group("name"), m.group("body")))
    for m in _STRUCT_DEF.finditer(text):
        tag = m.group("tag")
        if tag not in names:
            continue  # no typedef name: not part of the header's public vocabulary
        found.append((m.start(), names[tag], m.group("body")))
    structs = collections.OrderedDict()
    for _, name, body in sorted(found, key=lambda t: t[0]):
        if name in structs:
            raise ValueError("struct %s is defined twice" % name)
        structs[name] = _parse_fields(body, name, constants)
    return structs


def parse_header(text):
    """Parses the header's text into Header(functions, structs, constants)."""
    constants = parse_constants(text)
    c = clean(text)
    return Header(parse_functions(c), parse_structs(c, constants), constants)


def parse_header_file(path):
    """parse_header of the file at path."""
    with open(path, encoding="utf-8") as f:
        return parse_header(f.read())


if __name__ == "__main__":  # prints what was parsed, for a look
    import sys

    h = parse_header_file(sys.argv[1] if len(sys.argv) > 1 else "include/mamlpp/mamlpp.h")
    for f in h.functions.values():
        print("%-24s %d  %s" % (f.name, f.arity, ", ".join(f.params)))
    for name, fields in h.structs.items():
        print(name, [(f.name, f.type) for f in fields])
