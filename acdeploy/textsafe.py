"""The one way a name or string from a model or a dataset reaches generated text.

Tensor names, layer names, class labels, window names and file names are attacker-controlled
once a user deploys a model they did not make. Each function here returns text that is safe in
its context whatever its input, so a generator never has to think about escaping:

- `c_comment`: the inside of a C comment (`/* ... */` or `// ...`),
- `c_string_literal`: a complete double-quoted C/C++ string literal,
- `c_ident`: a C identifier (ASCII letters, digits, `_`; never a keyword),
- `md_cell`: inline Markdown text (table cells, headings, list items),
- `md_link_target`: the target of a Markdown link or image,
- `terminal_text`: a line for the user's terminal (error messages, tables).

HTML is `html.escape` (standard library). No TensorFlow, no numpy.
"""

from __future__ import annotations

import re
from urllib.parse import quote

COMMENT_MAX = 200
# Printable ASCII; GCC also joins lines at a backslash followed by CR, LF or spaces, and a
# trigraph `??/` is a backslash in strict ISO modes, so backslash and `?` runs are excluded.
_PRINTABLE = frozenset(chr(c) for c in range(0x20, 0x7F))
# In a string literal: what needs no thought in C, C++ or a printf format ('?' would start a
# trigraph, '%' a conversion if an application prints a label as a format).
_LITERAL_SAFE = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.,:;/+=()[]{}<>!@#$^&*~'|`")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#!~])")
C_KEYWORDS = frozenset("""
    auto break case char const continue default do double else enum extern float for goto if
    inline int long register restrict return short signed sizeof static struct switch typedef
    union unsigned void volatile while _Alignas _Alignof _Atomic _Bool _Complex _Generic
    _Imaginary _Noreturn _Static_assert _Thread_local alignas alignof and and_eq asm bitand
    bitor bool catch char8_t char16_t char32_t class compl concept consteval constexpr
    constinit const_cast co_await co_return co_yield decltype delete dynamic_cast explicit
    export false friend mutable namespace new noexcept not not_eq nullptr operator or or_eq
    private protected public reinterpret_cast requires static_assert static_cast template this
    thread_local throw true try typeid typename using virtual wchar_t xor xor_eq
""".split())


def c_comment(text: object, limit: int = COMMENT_MAX) -> str:
    """`text` as the body of a C comment, safe next to any comment delimiter.

    Printable ASCII stays; backslash, control characters (CR, LF, NUL, ...) and non-ASCII
    become `?`; a `*` next to a `/` and a trailing `/` become `?` (no `/*` or `*/` can form,
    even with the delimiters the caller writes around it); runs of `?` shrink to one (no
    trigraphs). At most `limit` characters.
    """
    s = str(text)
    if len(s) > limit:
        s = s[:limit - 3] + "..."
    chars = [c if c in _PRINTABLE and c != "\\" else "?" for c in s]
    for i, c in enumerate(chars):
        if c == "*" and ((i > 0 and chars[i - 1] == "/") or (i + 1 < len(chars) and chars[i + 1] == "/")):
            chars[i] = "?"
    if chars and chars[-1] == "/":
        chars[-1] = "?"
    return re.sub(r"\?{2,}", "?", "".join(chars))


def c_string_literal(text: object) -> str:
    """`text` as a complete C/C++ string literal: its UTF-8 bytes, each one that is not plain
    ASCII (quote, backslash, `?`, `%`, controls, non-ASCII) as a three-digit octal escape, which
    the next character cannot extend. A NUL byte becomes `\\000`: C sees the string end there."""
    out = ['"']
    for ch in str(text):
        if ch in _LITERAL_SAFE:
            out.append(ch)
        else:
            out.extend(f"\\{b:03o}" for b in ch.encode("utf-8", "surrogatepass"))
    out.append('"')
    return "".join(out)


def c_ident(text: object, limit: int = 40, fallback: str = "t") -> str:
    """`text` as a C identifier: ASCII letters, digits and single `_` (no leading or trailing
    `_`, so never a reserved `_X` / `__x` name), at most `limit` characters; `fallback` if
    nothing is left, and `fallback_` in front of one that starts with a digit or is a C or
    C++ keyword."""
    s = re.sub(r"[^0-9A-Za-z_]", "_", str(text)).strip("_")
    s = re.sub(r"_+", "_", s)[:limit] or fallback
    if s[0].isdigit() or s in C_KEYWORDS:
        s = f"{fallback}_{s}"
    return s


def md_cell(text: object) -> str:
    """`text` as inline Markdown (a table cell, a heading, a list item): Markdown's special
    characters backslash-escaped, newlines and other control characters as spaces, and
    `&` as `&amp;` so no HTML entity or tag is formed."""
    s = "".join(c if c >= " " and c != "\x7f" else " " for c in str(text))
    s = s.replace("&", "&amp;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def md_link_target(path: object) -> str:
    """A relative path as the target of a Markdown link or image (percent-encoded: no space,
    parenthesis, bracket or quote can end it)."""
    return quote(str(path), safe="/-_.~")


# C0 and C1 controls, DEL, and the Unicode bidirectional overrides that reorder what a terminal
# shows (a name could otherwise move the cursor, recolour or rewrite earlier output).
_TERMINAL_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_text(text: object) -> str:
    """`text` with every control character (escape sequences, CR, newlines) and bidi override as `?`."""
    return _TERMINAL_UNSAFE.sub("?", str(text))
