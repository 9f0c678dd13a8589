"""TeX math in the feedback pages, typeset to MathML when the page is written, so the page needs
no script at all (its Content-Security-Policy says `script-src 'none'`).

Browsers render MathML themselves (Chromium 109+, Firefox, Safari). latex2mathml (pure Python, no
network) turns each formula's TeX into an element tree; `tex_to_mathml` writes that tree out itself,
escaping every text and attribute value (latex2mathml's own `convert` un-escapes its whole output,
so `\\text{<img onerror=...>}` would come out as markup), keeps only the MathML elements and
attributes of `TAGS` and `ATTRIBUTES`, and passes the result through nh3 with that MathML-only
allow-list. The TeX is the student's wherever the student wrote it: a formula that defines macros
(`\\newcommand`, `\\def`: their expansion can grow exponentially), that is longer than `MAX_TEX`,
nested deeper than `MAX_DEPTH`, makes more than `MAX_MATHML` characters, or that latex2mathml cannot
read, is left as the text the student wrote (escaped), never run.

`typeset_html(html, budget)` finds math in the text of an HTML fragment the way MathJax's TeX
input did on the old page (`$...$`, `$$...$$`, `\\(...\\)`, `\\[...\\]`, `\\begin{env}...\\end{env}`,
`\\$` for a dollar; nothing inside code, pre, kbd or samp) and replaces each formula by its MathML.
A `Budget` bounds a page's work: past `Budget.tex_chars` characters of TeX or `Budget.seconds`,
formulas stay as text.
"""
from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

import nh3
from latex2mathml.converter import convert_to_element

from . import sanitize

# MathML Core's presentation elements that latex2mathml writes (no maction, mglyph, semantics or
# annotation-xml: those can toggle, load or embed other content).
TAGS = frozenset({
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "munder",
    "mover", "munderover", "mfrac", "msqrt", "mroot", "mstyle", "mpadded", "mphantom", "menclose",
    "merror", "mtable", "mtr", "mtd", "mmultiscripts", "mprescripts", "none"})
# Layout attributes only: no href, src, style, class or id (latex2mathml writes href for \href,
# style for \style, class for \class), no event handlers.
_LAYOUT = {"mathvariant", "mathsize", "mathcolor", "mathbackground", "displaystyle", "scriptlevel", "dir"}
ATTRIBUTES = {tag: set(_LAYOUT) for tag in TAGS}
ATTRIBUTES["math"] |= {"display"}
ATTRIBUTES["mo"] |= {"stretchy", "fence", "form", "separator", "accent", "largeop", "movablelimits",
                     "symmetric", "lspace", "rspace", "minsize", "maxsize"}
ATTRIBUTES["mfrac"] |= {"linethickness"}
ATTRIBUTES["mspace"] |= {"width", "height", "depth", "linebreak"}
ATTRIBUTES["mpadded"] |= {"width", "height", "depth", "lspace", "voffset"}
ATTRIBUTES["mover"] |= {"accent"}
ATTRIBUTES["munder"] |= {"accentunder"}
ATTRIBUTES["munderover"] |= {"accent", "accentunder"}
ATTRIBUTES["menclose"] |= {"notation"}
ATTRIBUTES["mtable"] |= {"columnalign", "rowalign", "columnlines", "rowlines", "columnspacing",
                         "rowspacing", "frame", "framespacing", "displaystyle"}
ATTRIBUTES["mtr"] |= {"columnalign", "rowalign"}
ATTRIBUTES["mtd"] |= {"columnalign", "rowalign", "columnspan", "rowspan"}
# An attribute value: a number with a unit, a keyword, a colour; nothing that could be a URL.
SAFE_VALUE = re.compile(r"[A-Za-z0-9 .%+#-]{0,64}")

MAX_TEX = 4000        # characters of TeX in one formula
MAX_DEPTH = 60        # nesting of the MathML tree
MAX_MATHML = 200_000  # characters of MathML from one formula
# Macro definitions: their expansion is not bounded by the input's size.
DEFINES = re.compile(r"\\(?:newcommand|renewcommand|providecommand|def|edef|gdef|xdef|let|"
                     r"DeclareMathOperator|newenvironment|renewenvironment)(?![A-Za-z])")
_ENTITY = re.compile(r"&#[xX]([0-9A-Fa-f]{1,6});")  # latex2mathml writes symbols as character references


def _keep_value(tag: str, attr: str, value: str) -> str | None:
    return value if SAFE_VALUE.fullmatch(value) else None


_MATHML_ONLY = dict(tags=set(TAGS), attributes={k: set(v) for k, v in ATTRIBUTES.items()},
                    clean_content_tags={"script", "style"}, url_schemes=set(), link_rel=None,
                    strip_comments=True, attribute_filter=_keep_value)


def clean_mathml(markup: str) -> str:
    """MathML through nh3 with the MathML-only allow-list: every other element (HTML included)
    and attribute is removed, script and style with their content."""
    return nh3.clean(markup, **_MATHML_ONLY)


def _text(value: str | None) -> str:
    """latex2mathml's text, its character references decoded, escaped for HTML."""
    if not value:
        return ""

    def char(m):
        code = int(m.group(1), 16)
        return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"

    return html.escape(_ENTITY.sub(char, value), quote=False)


class _TooBig(Exception):
    pass


def _write(el: Element, out: list[str], depth: int, size: list[int]) -> None:
    """Append el as MathML to out: allow-listed elements and attributes only, all text escaped."""
    if depth > MAX_DEPTH:
        raise _TooBig("nested too deeply")
    tag = el.tag if isinstance(el.tag, str) else ""
    keep = tag in TAGS  # an element outside the allow-list goes; its text and children stay
    pieces = []
    if keep:
        allowed = ATTRIBUTES[tag]
        attrs = "".join(f' {k}="{html.escape(str(v), quote=True)}"' for k, v in el.attrib.items()
                        if k in allowed and SAFE_VALUE.fullmatch(str(v)))
        pieces.append(f"<{tag}{attrs}>")
    pieces.append(_text(el.text))
    _emit(out, size, pieces)
    for child in el:
        _write(child, out, depth + 1, size)
        _emit(out, size, [_text(child.tail)])
    if keep:
        _emit(out, size, [f"</{tag}>"])


def _emit(out: list[str], size: list[int], pieces: list[str]) -> None:
    for piece in pieces:
        size[0] += len(piece)
        out.append(piece)
    if size[0] > MAX_MATHML:
        raise _TooBig("too much MathML")


def tex_to_mathml(tex: str, display: bool = False) -> str | None:
    """The MathML of one formula (cleaned), or None when it is left as text (see the module)."""
    if len(tex) > MAX_TEX or DEFINES.search(tex) or not tex.strip():
        return None
    try:
        tree = convert_to_element(tex, display="block" if display else "inline")
    except (RecursionError, MemoryError):
        return None
    except Exception:  # noqa: BLE001 - latex2mathml's errors for TeX it cannot read: left as text
        return None
    markup = write_mathml(tree)
    return None if markup is None else clean_mathml(markup)


def write_mathml(tree: Element) -> str | None:
    """latex2mathml's tree as MathML text: elements of TAGS only (the text and children of any
    other stay), attributes of ATTRIBUTES with SAFE_VALUE values only, every text escaped; None
    when it is nested deeper than MAX_DEPTH or longer than MAX_MATHML."""
    out: list[str] = []
    try:
        _write(tree, out, 0, [0])
    except (_TooBig, RecursionError):
        return None
    return "".join(out)


@dataclass
class Budget:
    """How much math one page may typeset; formulas past it stay as text."""
    tex_chars: int = 200_000
    seconds: float = 10.0
    started: float = field(default_factory=time.monotonic)
    used: int = 0
    typeset: int = 0
    left_as_text: int = 0
    examples_left: list[str] = field(default_factory=list)  # the first few formulas left as text

    def allows(self, tex: str) -> bool:
        return self.used + len(tex) <= self.tex_chars and time.monotonic() - self.started <= self.seconds


# Math in text, as MathJax's tex2jax found it: display first, then inline; \$ is a dollar.
_OPEN = re.compile(r"\\\$|\$\$|\$|\\\[|\\\(|\\begin\{([A-Za-z]+\*?)\}")
_CLOSE = {"$$": re.compile(r"(?<!\\)\$\$"), "$": re.compile(r"(?<!\\)\$"),
          "\\[": re.compile(r"\\\]"), "\\(": re.compile(r"\\\)")}
# Environments MathJax processed on their own (processEnvironments): the displayed ones.
ENVIRONMENTS = frozenset({"equation", "equation*", "align", "align*", "aligned", "gather", "gather*",
                          "multline", "multline*", "eqnarray", "eqnarray*", "split", "cases", "array",
                          "matrix", "pmatrix", "bmatrix", "vmatrix", "Vmatrix"})


def split_math(text: str) -> list[tuple[str, str, str]]:
    """Plain text cut into (kind, source, tex): kind "text" (source is the text, `\\$` made `$`),
    "inline" or "display" (source is the formula with its delimiters, tex what is inside them;
    an environment keeps its \\begin and \\end in tex)."""
    parts: list[tuple[str, str, str]] = []
    buf: list[str] = []
    at = 0
    unclosed: set[str] = set()  # openers with no closer after some point: none after a later one
    while True:
        m = _OPEN.search(text, at)
        if m is None:
            buf.append(text[at:])
            break
        buf.append(text[at:m.start()])
        opener = m.group(0)
        if opener == "\\$":
            buf.append("$")
            at = m.end()
            continue
        if m.group(1) is not None:
            env = m.group(1)
            end = -1
            if env in ENVIRONMENTS and opener not in unclosed:
                end = text.find("\\end{" + env + "}", m.end())
            if end < 0:
                unclosed.add(opener)
                buf.append(opener)
                at = m.end()
                continue
            stop = end + len("\\end{" + env + "}")
            kind, tex = "display", text[m.start():stop]
        else:
            close = None if opener in unclosed else _CLOSE[opener].search(text, m.end())
            if close is None:
                unclosed.add(opener)
            if close is None or close.start() == m.end():
                buf.append(opener)
                at = m.end()
                continue
            stop = close.end()
            kind = "display" if opener in ("$$", "\\[") else "inline"
            tex = text[m.end():close.start()]
        if "".join(buf):
            parts.append(("text", "".join(buf), ""))
        buf = []
        parts.append((kind, text[m.start():stop], tex))
        at = stop
    if "".join(buf):
        parts.append(("text", "".join(buf), ""))
    return parts


def typeset_text(text: str, budget: Budget) -> str:
    """Plain text (not HTML) as HTML: escaped, its formulas as MathML where they can be."""
    out = []
    for kind, source, tex in split_math(text):
        if kind == "text":
            out.append(html.escape(source, quote=False))
            continue
        mathml = tex_to_mathml(tex, display=kind == "display") if budget.allows(tex) else None
        budget.used += len(tex)
        if mathml is None:
            budget.left_as_text += 1
            if len(budget.examples_left) < 5:
                budget.examples_left.append(source[:120])
            out.append(html.escape(source, quote=False))
        else:
            budget.typeset += 1
            out.append(mathml)
    return "".join(out)


# A tag, a comment or a doctype in HTML that a serialiser wrote (nh3's or the markdown renderer's:
# attribute values quoted, `<` in text escaped): everything else is text.
_TAG = re.compile(r"<!--.*?-->|<[A-Za-z/!?](?:[^>\"']|\"[^\"]*\"|'[^']*')*>", re.S)
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)")
SKIP = frozenset({"code", "pre", "kbd", "samp", "script", "style", "textarea", "math", "svg"})


def typeset_html(fragment: str, budget: Budget) -> str:
    """An HTML fragment with the math in its text typeset (see the module). Only for HTML that a
    serialiser wrote; the caller cleans the result again."""
    if "$" not in fragment and "\\" not in fragment:
        return fragment
    out, at, skipping = [], 0, []
    for m in _TAG.finditer(fragment):
        out.append(_typeset_run(fragment[at:m.start()], budget) if not skipping else fragment[at:m.start()])
        tag = m.group(0)
        out.append(tag)
        at = m.end()
        name = _TAG_NAME.match(tag)
        if name:
            n = name.group(1).lower()
            if n in SKIP and not tag.endswith("/>"):
                if tag.startswith("</"):
                    if n in skipping:
                        del skipping[len(skipping) - 1 - skipping[::-1].index(n)]
                else:
                    skipping.append(n)
    tail = fragment[at:]
    out.append(_typeset_run(tail, budget) if not skipping else tail)
    return "".join(out)


def _typeset_run(raw: str, budget: Budget) -> str:
    if "$" not in raw and "\\" not in raw:
        return raw
    return typeset_text(html.unescape(raw), budget)


# --- a notebook's math, for the feedback page -------------------------------------------------------

TYPESET_OPEN = '<div class="autograder-typeset">'


def _page_attribute(tag: str, attr: str, value: str) -> str | None:
    if tag in TAGS:
        return _keep_value(tag, attr, value)
    return sanitize.keep_data_images_only(tag, attr, value)


_PAGE = dict(
    tags=set(sanitize.TAGS) | set(TAGS),
    attributes={tag: set(sanitize.ATTRIBUTES.get(tag, set())) | set(ATTRIBUTES.get(tag, set()))
                for tag in set(sanitize.ATTRIBUTES) | set(ATTRIBUTES)},
    clean_content_tags={"script", "style"}, url_schemes=set(sanitize.URL_SCHEMES), link_rel=None,
    strip_comments=True, attribute_filter=_page_attribute)


def clean_page_html(fragment: str) -> str:
    """HTML with typeset math, cleaned once more as a whole: the student-content allow-list of
    autograder.sanitize plus the MathML one (ids are left as they are: the sanitiser prefixed
    those of student HTML already)."""
    return nh3.clean(fragment, **_PAGE)


def typeset_markdown(source: str, attachments: dict | None, budget: Budget) -> str | None:
    """A (sanitised) markdown cell as one HTML block with its math typeset; None when it holds no
    math that could be typeset (the cell is then left as it is)."""
    if "$" not in source and "\\" not in source:
        return None
    try:
        rendered = sanitize.render_markdown(source, attachments or None)
    except Exception:  # noqa: BLE001 - nbconvert cannot render it either; it shows it as before
        return None
    before = budget.typeset
    typeset = typeset_html(rendered, budget)
    if budget.typeset == before:
        return None
    return sanitize.as_html_block(clean_page_html(typeset), TYPESET_OPEN)


def typeset_output(out, budget: Budget) -> None:
    """One (sanitised) output's math typeset in place: text/markdown and text/html as in the
    notebook's own renderer; text/latex alone (display(Math(...))) gets a text/html rendering."""
    data = out.get("data")
    if not isinstance(data, dict):
        return
    if isinstance(data.get("text/markdown"), str):
        block = typeset_markdown(data["text/markdown"], None, budget)
        if block is not None:
            data["text/markdown"] = block
    if isinstance(data.get("text/html"), str):
        before = budget.typeset
        typeset = typeset_html(data["text/html"], budget)
        if budget.typeset != before:
            data["text/html"] = clean_page_html(typeset)
    elif isinstance(data.get("text/latex"), str) and "text/markdown" not in data:
        before = budget.typeset
        typeset = typeset_text(data["text/latex"], budget)
        if budget.typeset != before:
            data["text/html"] = TYPESET_OPEN + clean_page_html(typeset) + sanitize.WRAPPER_CLOSE


def typeset_notebook(nb, budget: Budget | None = None) -> Budget:
    """Typeset the math of a sanitised notebook's markdown cells and outputs, in place; returns the
    budget with its counts (formulas typeset, left as text)."""
    budget = budget if budget is not None else Budget()
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            block = typeset_markdown(source if isinstance(source, str) else "".join(source),
                                     cell.get("attachments"), budget)
            if block is not None:
                cell["source"] = block
                cell.pop("attachments", None)  # embedded in the block as data: images
        elif cell.get("cell_type") == "code":
            for out in cell.get("outputs", []):
                typeset_output(out, budget)
    return budget


def main(argv: list[str] | None = None) -> int:
    """`python -m autograder.mathrender NOTEBOOK...`: per notebook, the formulas its feedback page
    would typeset, those it would leave as text (the first few shown), and the time typesetting
    takes (the median of --repeat runs; the notebook is sanitised first, as for feedback)."""
    import argparse
    import copy
    import statistics

    import nbformat

    parser = argparse.ArgumentParser(prog="python -m autograder.mathrender", description=main.__doc__)
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    left_somewhere = False
    for path in args.notebooks:
        clean = sanitize.notebook(nbformat.read(path, as_version=4))
        times, budget = [], None
        for _ in range(max(1, args.repeat)):
            nb = copy.deepcopy(clean)
            t0 = time.perf_counter()
            budget = typeset_notebook(nb)
            times.append(time.perf_counter() - t0)
        left_somewhere |= budget.left_as_text > 0
        print(f"{path}: {budget.typeset} formulas typeset, {budget.left_as_text} left as text, "
              f"{statistics.median(times) * 1000:.0f} ms (median of {len(times)})")
        for source in budget.examples_left:
            print(f"    left as text: {source!r}")
    return 1 if left_somewhere else 0


if __name__ == "__main__":
    raise SystemExit(main())
