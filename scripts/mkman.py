#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Section 3 manual pages from libedera's public headers.

Usage: mkman.py [--check] [--version VERSION] OUTDIR HEADER...

For each include/edera/NAME.h, OUTDIR/edera_NAME.3: NAME from the first
sentence of the header's opening comment, SYNOPSIS with the include line
and every function the header exports, DESCRIPTION with the opening
comment, then each documented item in the header's order: its
declarations (functions, types, constants) and the comment above them.

A function is documented when a comment sits directly above it, or above
the group of declarations it belongs to (no blank line between them).  An
exported function without one is an error: the pages are not written and
the exit status is 1 (--check only checks).
"""
import os
import re
import sys

VERSION = "unknown"  # --version VERSION (the Makefile passes configure's)


def roff_escape(text):
    """Text for a roff body line: backslashes, leading dots and quotes."""
    text = text.replace("\\", "\\e")
    out = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        out.append(line)
    return "\n".join(out)


def uncomment(block):
    """The text of a /* ... */ comment, its decoration removed."""
    body = block.strip()
    assert body.startswith("/*") and body.endswith("*/")
    body = body[2:-2]
    lines = body.split("\n")
    out = []
    for line in lines:
        s = line.strip()
        if s.startswith("*"):
            s = s[1:]
            if s.startswith(" "):
                s = s[1:]
        out.append(s.rstrip())
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)


def paragraphs_to_roff(text):
    """Comment text to roff: blank lines start paragraphs; lines that look
    like lists or code keep their breaks."""
    out = []
    for para in re.split(r"\n\s*\n", text):
        lines = para.split("\n")
        listy = any(re.match(r"^\s*([-*]|\d+\.)\s", ln) for ln in lines) or any(
            ln.startswith("  ") for ln in lines
        )
        out.append(".PP")
        if listy:
            out.append(".nf")
            out.append(roff_escape(para))
            out.append(".fi")
        else:
            out.append(roff_escape(" ".join(ln.strip() for ln in lines)))
    return "\n".join(out)


FUNC_RE = re.compile(r"EDERA_API\s+[^;]*?\b(edera_[a-z0-9_]+)\s*\(", re.S)


def split_items(src):
    """The header after its opening comment and guard, as items: each a
    (comment or None, declaration text) where the declaration is the run
    of non-blank, non-comment lines that follows."""
    # drop the SPDX line, the opening comment, guards, includes, extern "C"
    lines = src.split("\n")
    items = []
    comment = None
    decl = []
    i = 0
    pending_comment_lines = None

    def flush():
        nonlocal comment, decl
        if decl:
            items.append((comment, "\n".join(decl)))
        elif comment is not None:
            items.append((comment, ""))
        comment = None
        decl = []

    depth = 0  # inside braces, every line (comments too) is the declaration's
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if depth > 0:
            decl.append(line)
            depth += line.count("{") - line.count("}")
            i += 1
            continue
        if pending_comment_lines is not None:
            pending_comment_lines.append(line)
            if "*/" in line:
                text = "\n".join(pending_comment_lines)
                pending_comment_lines = None
                comment = uncomment(text) if comment is None else comment + "\n\n" + uncomment(text)
            i += 1
            continue
        if s.startswith("/*") and not decl:
            if "*/" in s and s.endswith("*/"):
                c = uncomment(s)
                comment = c if comment is None else comment + "\n\n" + c
            else:
                pending_comment_lines = [line]
            i += 1
            continue
        if s.startswith("/*") and decl:
            flush()
            continue
        if not s:
            flush()
            i += 1
            continue
        decl.append(line)
        if not s.startswith("extern \"C\"") and s != "}":  # the C++ guard's braces
            depth += line.count("{") - line.count("}")
        i += 1
    flush()
    return items


def skip_item(decl):
    s = decl.strip()
    return (
        s.startswith("#ifndef EDERA_")
        or s.startswith("#define EDERA_") and s.endswith("_H")
        or s.startswith("#include")
        or s.startswith("#ifdef __cplusplus")
        or s.startswith("extern \"C\"")
        or s.startswith("#endif")
        or s.startswith("}")
        or s.startswith("// SPDX")
    )


def clean_decl(decl):
    """A declaration as shown: the cplusplus and include noise gone."""
    out = []
    skip = 0
    for ln in decl.split("\n"):
        s = ln.strip()
        if s.startswith("#ifdef __cplusplus"):
            skip = 1
            continue
        if skip:
            if s.startswith("#endif"):
                skip = 0
            continue
        if s.startswith("#include") or (s.startswith("#ifndef EDERA_") and s.endswith("_H")):
            continue
        if re.match(r"#define EDERA_[A-Z_]+_H$", s) or s == "#endif":
            continue
        out.append(ln.replace("EDERA_API ", ""))
    return "\n".join(out).strip("\n")


def page(header):
    name = os.path.basename(header)[:-2]
    with open(header, encoding="utf-8") as f:
        src = f.read()
    # the opening comment: the first block comment after the SPDX line
    m = re.search(r"/\*(?!\s*SPDX).*?\*/", src, re.S)
    intro = uncomment(m.group(0)) if m else ""
    rest = src[m.end():] if m else src
    first = re.split(r"(?<=\.)\s", intro.replace("\n", " "), maxsplit=1)[0].rstrip(".")
    items = split_items(rest)
    funcs = []
    protos = []
    undocumented = []
    body = []
    for comment, decl in items:
        shown = clean_decl(decl)
        names = FUNC_RE.findall(decl)
        funcs.extend(names)
        for proto in re.findall(r"EDERA_API\s[^;]*;", decl, re.S):
            protos.append(re.sub(r"\s+", " ", proto.replace("EDERA_API ", "")))
        if names and not comment:
            undocumented.extend(names)
        if not shown and not comment:
            continue
        if not shown:
            body.append(paragraphs_to_roff(comment))
            continue
        if skip_item(decl) and not comment:
            continue
        body.append(".PP\n.nf\n.B\n" + roff_escape(shown) + "\n.fi")
        if comment:
            body.append(".RS\n" + paragraphs_to_roff(comment) + "\n.RE")
    title = "edera" if name == "edera" else "edera_" + name
    out = [
        '.\\" Generated by scripts/mkman.py from include/edera/%s.h: edit the header.' % name,
        '.TH %s 3 "" "libedera %s" "libedera Manual"' % (title.upper(), VERSION),
        ".SH NAME",
        "%s \\- %s" % (title, roff_escape(first[:1].lower() + first[1:] if first else name)),
        ".SH SYNOPSIS",
        ".nf",
        ".B #include <edera/%s.h>" % name,
    ]
    if protos:
        out.append("")
    for proto in protos:
        out.append(roff_escape(proto))
    out += [
        ".fi",
        ".PP",
        "Link with",
        ".IR \"$(pkg-config --libs edera)\" .",
        ".SH DESCRIPTION",
        paragraphs_to_roff(intro),
        "\n".join(body),
        ".SH RETURN VALUE",
        "Functions returning",
        ".B int",
        "return 0 or a positive count on success and a negative",
        ".B EDERA_E*",
        "code on failure; the reason, in words, is then in",
        ".BR edera_last_error ()",
        "of the calling thread (see",
        ".BR edera_error (3)).",
        ".SH SEE ALSO",
        ".BR libedera (7)",
    ]
    return title, "\n".join(out) + "\n", funcs, undocumented


def main(argv):
    global VERSION
    check = False
    while argv and argv[0].startswith("--"):
        if argv[0] == "--check":
            check = True
            argv = argv[1:]
        elif argv[0] == "--version" and len(argv) > 1:
            VERSION = argv[1]
            argv = argv[2:]
        else:
            sys.stderr.write("mkman: unknown option %s\n" % argv[0])
            return 2
    if len(argv) < 2:
        sys.stderr.write("usage: mkman.py [--check] [--version VERSION] OUTDIR HEADER...\n")
        return 2
    outdir, headers = argv[0], argv[1:]
    pages = []
    bad = []
    for h in headers:
        title, text, funcs, undocumented = page(h)
        pages.append((title, text, funcs))
        bad += ["%s (%s)" % (fn, os.path.basename(h)) for fn in undocumented]
    if bad:
        sys.stderr.write(
            "mkman: exported functions without documentation (a comment directly above "
            "them or their group in the header):\n  " + "\n  ".join(bad) + "\n"
        )
        return 1
    if check:
        return 0
    os.makedirs(outdir, exist_ok=True)
    for title, text, _ in pages:
        with open(os.path.join(outdir, title + ".3"), "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
