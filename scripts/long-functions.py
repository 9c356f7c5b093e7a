#!/usr/bin/env python3
"""Lists the C and C++ functions longer than a limit, longest first.

usage: scripts/long-functions.py [--limit N] [PATH ...]
  PATH: files or folders (default: lib dialects tools runtime); .cpp, .c, .h
  --limit N: report functions of more than N lines (default 100)

A function is a brace block whose header (the text since the previous ';',
'{' or '}' of the same scope) has a parameter list and which opens in a
namespace, a class or at file scope; lambdas and local classes count as part
of the function around them. Its length runs from the first line of its
signature to its closing brace, blank lines and comments included. Strings,
character literals, raw strings and comments are skipped when braces are
matched. Exits 0; prints "N functions over LIMIT lines" last.
"""
import argparse
import os
import re
import sys

NOT_FUNCTIONS = re.compile(
    r"^\s*(template\s*<.*>\s*)?(struct|class|union|enum|namespace)\b|"
    r"^\s*extern\s+\"C\"|=\s*$|=\s*\w*$|\breturn\b")


def strip(text):
    """The text with comments, strings and character literals blanked out
    (newlines kept, so that line numbers stay)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and text.startswith('R"', i) and (i == 0 or not text[i - 1].isalnum()):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = ")" + m.group(1) + '"'
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(c + " " * max(0, j - i - 1) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    """(name, first line, last line) of every function defined in `path`."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = strip(f.read())
    # Preprocessor lines hold no braces that matter.
    text = re.sub(r"(?m)^\s*#.*$", lambda m: " " * len(m.group(0)), text)
    result = []
    # Each open scope: (kind, start offset of its header, name).
    stack = []
    header_start = 0
    for i, c in enumerate(text):
        if c in ";":
            header_start = i + 1
        elif c == "{":
            header = text[header_start:i]
            in_function = any(kind == "function" for kind, _, _ in stack)
            kind = "block"
            name = ""
            if not in_function and "(" in header and ")" in header and \
                    not NOT_FUNCTIONS.search(header.strip()):
                kind = "function"
                m = re.search(r"([~\w:]+(?:<[^()]*>)?|operator\W+)\s*\(", header)
                name = m.group(1) if m else "?"
            elif not in_function:
                kind = "scope"
            stack.append((kind, header_start, name))
            header_start = i + 1
        elif c == "}":
            if stack:
                kind, start, name = stack.pop()
                if kind == "function":
                    # The signature's first line: skip the blank prefix.
                    while start < i and text[start].isspace():
                        start += 1
                    first = text.count("\n", 0, start) + 1
                    last = text.count("\n", 0, i) + 1
                    result.append((name, first, last))
            header_start = i + 1
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("paths", nargs="*", default=["lib", "dialects", "tools", "runtime"])
    args = parser.parse_args()
    files = []
    for p in args.paths:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                files += [os.path.join(root, n) for n in names
                          if n.endswith((".cpp", ".c", ".h"))]
        else:
            files.append(p)
    long = []
    for path in sorted(files):
        for name, first, last in functions(path):
            length = last - first + 1
            if length > args.limit:
                long.append((length, path, first, name))
    for length, path, first, name in sorted(long, reverse=True):
        print(f"{length:5d}  {path}:{first}  {name}")
    print(f"{len(long)} functions over {args.limit} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
