"""acdeploy/textsafe.py: each function's output is safe in its context for any input (checked
on hand-picked hostile strings and on seeded random strings; C cases with the real gcc)."""

from __future__ import annotations

import ast
import random
import re
import shutil
import subprocess

import pytest

from acdeploy.textsafe import (
    C_KEYWORDS,
    c_comment,
    c_ident,
    c_string_literal,
    md_cell,
    md_link_target,
    terminal_text,
)

HOSTILE = [
    "", "plain", "a/*b", "c*/d", "/*/", "*/*", "x*\\\r/ int evil; /*", "trail/", "trail*", "/lead", "*lead",
    "back\\", "\\\n", "\\\r\n", "cr\rlf\n", "nul\0", "??/", "a??=b", "???/", "?*/", "'\"", "caf\u00e9 \U0001f600",
    "\x7f\x1b[31m", "%s%n", "\ud800", "// line", "x" * 500,
]


def _random_strings(n=400, seed=0):
    rng = random.Random(seed)
    alphabet = "/*\\?\"'\r\n\0 %#<>|`_[]&a1\u00e9\u4e2d\U0001f600\t="
    return [''.join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))) for _ in range(n)]


CASES = HOSTILE + _random_strings()


@pytest.mark.parametrize("text", HOSTILE)
def test_c_comment_cannot_leave_or_nest_a_comment(text):
    s = c_comment(text)
    assert all(" " <= c <= "~" for c in s)
    assert "\\" not in s and "/*" not in s and "*/" not in s and "??" not in s
    assert not s.endswith("/")  # followed by the closing */ it would read as "/*"
    assert len(s) <= 200
    assert c_comment(s) == s  # already safe text passes unchanged


def test_c_comment_random():
    for text in CASES:
        s = c_comment(text, limit=30)
        assert len(s) <= 30 and "\\" not in s and "??" not in s
        for ctx in (f"/* {s} */", f"/*{s}*/"):
            body = ctx[2:]  # a comment ends at the first */ after its opener and must hold no /*
            assert body.find("*/") == len(body) - 2 and "/*" not in body, (text, ctx)


def test_c_comment_keeps_ordinary_names():
    name = "model/conv2d/Relu;model/conv2d/Conv2D"
    assert c_comment(name) == name
    assert c_comment("a*b / c") == "a*b / c"  # '*' and '/' alone are harmless


def _c_bytes(literal: str) -> bytes:
    """What a C compiler stores for the literal (octal escapes have the same meaning in Python)."""
    assert literal.isascii()
    return ast.literal_eval("b" + literal)


def test_c_string_literal_round_trips_and_is_plain():
    for text in CASES:
        if "\ud800" in text:
            continue
        lit = c_string_literal(text)
        assert lit[0] == lit[-1] == '"' and all(" " <= c <= "~" for c in lit)
        assert '"' not in lit[1:-1].replace('\\042', "")
        assert "?" not in lit and "%" not in lit  # no trigraph, no printf conversion
        # every backslash starts a three-digit octal escape: none is continued by the next char
        assert all(re.fullmatch(r"\\[0-7]{3}", m) for m in re.findall(r"\\.{0,3}", lit))
        assert _c_bytes(lit) == text.encode("utf-8")


def test_c_string_literal_examples():
    assert c_string_literal("airport") == '"airport"'
    assert c_string_literal('a"b') == '"a\\042b"'
    assert c_string_literal("\0" + "1") == '"\\0001"'  # NUL, then the digit 1: not \01
    assert c_string_literal("??=") == '"\\077\\077="'


def test_c_string_literals_compile_and_print_back(tmp_path):
    if shutil.which("gcc") is None:
        pytest.skip("gcc not installed")
    texts = [t for t in CASES if "\0" not in t and "\ud800" not in t]
    src = ["#include <stdio.h>", "static const char *const s[] = {"]
    src += [f"  {c_string_literal(t)}, /* {c_comment(t)} */ // {c_comment(t)}" for t in texts]
    src += ["};", "int main(void) {", "  unsigned i; const unsigned char *p;",
            "  for (i = 0; i < sizeof s / sizeof s[0]; i++) {",
            "    for (p = (const unsigned char *)s[i]; *p; p++) printf(\"%02x\", *p);",
            "    printf(\"\\n\");", "  }", "  return 0;", "}"]
    (tmp_path / "t.c").write_text("\n".join(src) + "\n")
    exe = tmp_path / "t"
    r = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-Wtrigraphs", "-pedantic",
                        str(tmp_path / "t.c"), "-o", str(exe)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert [bytes.fromhex(x).decode() for x in out] == texts


@pytest.mark.parametrize("text,ident", [
    ("model/conv2d/Conv2D", "model_conv2d_Conv2D"), ("0abc", "t_0abc"), ("int", "t_int"),
    ("__x__", "x"), ("caf\u00e9", "caf"), ("", "t"), ("/*", "t"), ("class", "t_class"),
])
def test_c_ident(text, ident):
    assert c_ident(text) == ident


def test_c_ident_random():
    for text in CASES:
        s = c_ident(text)
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", s) and s not in C_KEYWORDS
        assert not s.startswith("_") and "__" not in s


def test_md_cell():
    assert md_cell("a|b") == "a\\|b"
    assert md_cell("x\ny\r") == "x y "
    assert md_cell("<script>") == "\\<script\\>"
    assert md_cell("[l](u) `c` *e* _u_") == "\\[l\\](u) \\`c\\` \\*e\\* \\_u\\_"
    assert md_cell("&lt;") == "&amp;lt;"
    assert md_cell(1234) == "1234"
    for text in CASES:
        s = md_cell(text)
        assert "\n" not in s and "\r" not in s and "\0" not in s
        # every special character is escaped (preceded by an odd number of backslashes)
        for m in re.finditer(r"[|`<>\[\]*_]", s):
            run = len(s[:m.start()]) - len(s[:m.start()].rstrip("\\"))
            assert run % 2 == 1, (text, s)


def test_md_link_target():
    assert md_link_target("teacher_0/curves.png") == "teacher_0/curves.png"
    assert md_link_target("a b/(x)[y]\"<z>.png") == "a%20b/%28x%29%5By%5D%22%3Cz%3E.png"


def test_terminal_text_has_no_control_characters():
    hostile = "conv\x1b[2J\x1b]0;owned\x07\r\nlayer\u202eevil\x9b31m"
    out = terminal_text(hostile)
    assert out == "conv?[2J?]0;owned???layer?evil?31m"
    assert not re.search("[\x00-\x1f\x7f-\x9f\u202a-\u202e]", out)
    assert terminal_text("dcase2022 – ok, ü") == "dcase2022 – ok, ü"  # printable Unicode stays

