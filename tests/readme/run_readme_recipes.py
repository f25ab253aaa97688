#!/usr/bin/env python3
"""Runs README.md's shell recipes exactly as written, so that they cannot drift from the code.

    run_readme_recipes.py --source SRC --build BUILD --work WORK [--readme FILE] [--list]
    run_readme_recipes.py --self-test --work WORK

Which blocks run is marked in the README itself, with an HTML comment (invisible on GitHub) on the
line before a fenced block:

    <!-- recipe: test -->        the ```sh block that follows is run
    <!-- recipe: file PATH -->   the block that follows is written to PATH (relative to the
                                 repository root) before the recipes run

Everything else (the two commands at the top, illustrative commands that need a dataset) is left
alone. The recipes run in order, in one bash process (`set -euo pipefail`, so an `export` in one
recipe holds for the next, as in a reader's terminal), from the root of a scratch copy of the
repository (WORK/repo: the files git knows, untracked ones included) whose `build` is a link to
the real build folder BUILD, with HOME=WORK/home: the source tree and the real home are never
written to. Inherited variables that would hide a missing step (MAMLPP_LIBRARY, MAMLPP_LIB_DIR,
PKG_CONFIG_PATH, LD_LIBRARY_PATH, CGO_*) are removed.

Exit status: 0 when every recipe succeeded; 1 naming the README line of the recipe that failed
(or when no recipe is marked at all).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

MARK = re.compile(r"^<!--\s*recipe:\s*(test|file\s+(\S+))\s*-->\s*$")
FENCE = re.compile(r"^```\s*([A-Za-z0-9_+-]*)\s*$")


def parse(text):
    """[(kind, path, line, body)] in README order: kind 'test' or 'file'."""
    lines = text.split("\n")
    out = []
    pending = None
    i = 0
    while i < len(lines):
        line = lines[i]
        m = MARK.match(line.strip())
        if m:
            pending = ("test", None, i + 1) if m.group(1) == "test" else ("file", m.group(2), i + 1)
            i += 1
            continue
        f = FENCE.match(line)
        if f:
            lang = f.group(1)
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            if j == len(lines):
                raise SystemExit("README line %d: a fenced block that never closes" % (i + 1))
            body = "\n".join(lines[i + 1:j]) + "\n"
            if pending:
                kind, path, mark_line = pending
                if kind == "test" and lang not in ("sh", "bash", "shell"):
                    raise SystemExit("README line %d: '<!-- recipe: test -->' marks a ```%s block, "
                                     "not a shell block" % (mark_line, lang))
                out.append((kind, path, i + 2, body))
            pending = None
            i = j + 1
            continue
        if pending and line.strip():
            raise SystemExit("README line %d: a recipe mark must be followed by a fenced block"
                             % pending[2])
        i += 1
    return out


def copy_source(source, dest):
    """The files git knows (tracked and untracked-but-not-ignored), else everything but build*."""
    try:
        names = subprocess.run(["git", "-C", source, "ls-files", "-z", "--cached", "--others",
                                "--exclude-standard"], check=True, capture_output=True).stdout
        files = [n for n in names.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for root, dirs, fs in os.walk(source):
            dirs[:] = [d for d in dirs if not (root == source and (d.startswith("build") or d == ".git"))]
            files += [os.path.relpath(os.path.join(root, f), source) for f in fs]
    for rel in files:
        src = os.path.join(source, rel)
        if not os.path.isfile(src):
            continue  # deleted in the working tree, or a submodule
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst)


def run_recipes(readme_path, source, build, work):
    with open(readme_path) as f:
        recipes = parse(f.read())
    tests = [r for r in recipes if r[0] == "test"]
    if not tests:
        print("run_readme_recipes: no '<!-- recipe: test -->' block in %s" % readme_path)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    repo = os.path.join(work, "repo")
    home = os.path.join(work, "home")
    os.makedirs(repo)
    os.makedirs(home)
    if source:
        copy_source(source, repo)
    if build:
        os.symlink(os.path.abspath(build), os.path.join(repo, "build"))
    for kind, path, line, body in recipes:
        if kind == "file":
            dst = os.path.join(repo, path)
            os.makedirs(os.path.dirname(dst) or repo, exist_ok=True)
            with open(dst, "w") as f:
                f.write(body)
            print("== README.md line %d: wrote %s" % (line, path))

    script = ["set -euo pipefail",
              'trap \'echo "run_readme_recipes: FAILED: the recipe at README.md line $RECIPE_LINE '
              '(exit status $?)" >&2\' ERR']
    for kind, path, line, body in recipes:
        if kind != "test":
            continue
        script.append("RECIPE_LINE=%d" % line)
        script.append("echo '== README.md line %d'" % line)
        script.append("set -x")
        script.append(body.rstrip("\n"))
        script.append("{ set +x; } 2>/dev/null")
    script.append("echo 'run_readme_recipes: all %d recipes passed'" % len(tests))
    script_path = os.path.join(work, "recipes.sh")
    with open(script_path, "w") as f:
        f.write("\n".join(script) + "\n")

    env = dict(os.environ)
    real_home = env.get("HOME", "")
    for var in ("MAMLPP_LIBRARY", "MAMLPP_LIB_DIR", "PKG_CONFIG_PATH", "LD_LIBRARY_PATH", "CGO_CFLAGS",
                "CGO_LDFLAGS", "CARGO_TARGET_DIR", "PYTHONPATH"):
        env.pop(var, None)
    # Toolchains installed under the real home (rustup) stay reachable.
    for var, sub in (("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")):
        if var not in env and real_home and os.path.isdir(os.path.join(real_home, sub)):
            env[var] = os.path.join(real_home, sub)
    env.update({"HOME": home, "CARGO_NET_OFFLINE": "true", "GOPROXY": "off", "GOTOOLCHAIN": "local",
                "GOFLAGS": "-buildvcs=false"})
    if build:
        # Caches survive between runs (they only hold compiled code), in the build folder.
        cache = os.path.join(os.path.abspath(build), "tests", "readme", "cache")
        env.setdefault("GOCACHE", os.path.join(cache, "go-build"))
        env.setdefault("GOPATH", os.path.join(cache, "gopath"))
    p = subprocess.run(["bash", script_path], cwd=repo, env=env)
    return 0 if p.returncode == 0 else 1


def self_test(work):
    """The runner itself: a README whose second recipe fails must fail, naming that recipe."""
    os.makedirs(work, exist_ok=True)
    readme = os.path.join(work, "README.md")
    with open(readme, "w") as f:
        f.write("# x\n\n```sh\nexit 1  # not marked: never run\n```\n\n"
                "<!-- recipe: file notes/a.txt -->\n```\nhello\n```\n\n"
                "<!-- recipe: test -->\n```sh\nexport GREETING=\"$(cat notes/a.txt)\"\n```\n\n"
                "<!-- recipe: test -->\n```sh\ntest \"$GREETING\" = hello\nfalse\necho unreachable\n```\n")
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--readme", readme, "--work",
                        os.path.join(work, "run")], capture_output=True, text=True)
    out = p.stdout + p.stderr
    ok = (p.returncode == 1 and "FAILED: the recipe at README.md line 19" in out
          and "unreachable" not in p.stdout)
    with open(readme, "a") as f:
        f.write("\n<!-- recipe: test -->\nnot a fenced block\n")
    q = subprocess.run([sys.executable, os.path.abspath(__file__), "--readme", readme, "--work",
                        os.path.join(work, "run")], capture_output=True, text=True)
    ok = ok and q.returncode != 0 and "must be followed by a fenced block" in q.stdout + q.stderr
    print(out)
    print("self-test: %s" % ("ok" if ok else "FAILED"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", help="the repository root")
    ap.add_argument("--build", help="the build folder the recipes' `build` stands for")
    ap.add_argument("--work", required=True, help="scratch folder (emptied first)")
    ap.add_argument("--readme", help="default: SOURCE/README.md")
    ap.add_argument("--list", action="store_true", help="print the marked recipes and exit")
    ap.add_argument("--self-test", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        return self_test(a.work)
    readme = a.readme or os.path.join(a.source, "README.md")
    if a.list:
        with open(readme) as f:
            for kind, path, line, body in parse(f.read()):
                print("-- line %d: %s%s\n%s" % (line, kind, " " + path if path else "", body))
        return 0
    return run_recipes(readme, a.source, a.build, a.work)


if __name__ == "__main__":
    sys.exit(main())
