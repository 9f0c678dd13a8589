"""Make a submission's content inert before an instructor's browser shows it.

A student writes the markdown cells and, through the kernel, every output of a submission. The
autograded notebook is what nbgrader's Formgrader renders on the instructor's Jupyter server (same
origin as the Jupyter and Formgrader APIs), and what the feedback HTML is made from; nbconvert's
templates put markdown HTML, `text/html` outputs, `application/javascript` outputs and several
metadata fields into the page as they are. `notebook(nb)` cleans a notebook in place:

- markdown cells (and `text/markdown` outputs): rendered with nbconvert's own markdown renderer (the
  one Formgrader and the feedback use). A cell whose rendering holds no raw HTML and no link the
  sanitiser would drop is left exactly as written. Any other cell is replaced by its rendering
  cleaned by nh3 (the ammonia HTML sanitiser), stored as one HTML block;
- outputs: `text/html` cleaned by nh3; images kept only as valid base64 PNG/JPEG/GIF; SVG,
  JavaScript, widget views and every other MIME type removed (a note says so); output metadata
  reduced to numeric image width and height;
- markdown attachments kept only as valid base64 PNG/JPEG/GIF; cell metadata reduced to nbgrader's
  and safe tags; notebook metadata reduced to the kernel's name and language.

The result is a fixed point: cleaning a cleaned notebook changes nothing.
"""
from __future__ import annotations

import base64
import binascii
import functools
import html
import re
import uuid

import nh3
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

# Tags and attributes an answer or an output may keep: nh3's defaults (formatting, lists, tables,
# links, images, <details>) plus classes (code highlighting) and ids under a prefix (headings'
# anchors), so student HTML cannot take the name of an element of the page around it.
TAGS = set(nh3.ALLOWED_TAGS)
ATTRIBUTES = {k: set(v) for k, v in nh3.ALLOWED_ATTRIBUTES.items()}
ATTRIBUTES["*"] = {"class", "title", "lang", "dir"}
for _tag in ("h1", "h2", "h3", "h4", "h5", "h6", "a", "span", "div", "p", "li", "td", "th"):
    ATTRIBUTES.setdefault(_tag, set()).add("id")
ATTRIBUTES["a"] |= {"title"}
ATTRIBUTES["img"] |= {"title"}
ATTRIBUTES["table"] = ATTRIBUTES.get("table", set()) | {"border"}
ATTRIBUTES["details"] = {"open"}
ID_PREFIX = "user-content-"
URL_SCHEMES = {"http", "https", "mailto", "data"}
# Only to decide whether the sanitiser dropped a link: every scheme it might be given.
ANY_SCHEME = URL_SCHEMES | set(nh3.ALLOWED_URL_SCHEMES) | {"javascript", "vbscript", "file", "blob", "filesystem", "about"}
IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif")
TEXT_MIMES = ("text/plain", "text/latex")  # nbconvert's templates escape these
WRAPPER_OPEN = '<div class="autograder-sanitized">'
WRAPPER_CLOSE = "</div>"
NOTE = ('<p class="autograder-note"><em>[The autograder removed HTML from this cell that could run '
        'in the browser; the submitted file keeps the original.]</em></p>')
SAFE_TOKEN = re.compile(r"[A-Za-z0-9_.+-]{1,100}")  # tag names, cell ids, kernel names: plain tokens
SAFE_CELL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def keep_data_images_only(tag: str, attr: str, value: str) -> str | None:
    """data: URLs only as an image's source, and only for raster images (never SVG, never HTML)."""
    if value.lower().lstrip().startswith("data:") and not (
            tag == "img" and attr == "src" and value.lower().lstrip().startswith(tuple(f"data:{m};" for m in IMAGE_MIMES))):
        return None
    return value


def clean_html(text: str) -> str:
    """Student HTML, cleaned: no script, style, event handler, form, frame, SVG or javascript: link."""
    return nh3.clean(text, tags=TAGS, attributes=ATTRIBUTES, url_schemes=URL_SCHEMES, link_rel=None,
                     id_prefix=ID_PREFIX, attribute_filter=keep_data_images_only)


def _clean_any_url(text: str) -> str:
    return nh3.clean(text, tags=TAGS, attributes=ATTRIBUTES, url_schemes=ANY_SCHEME, link_rel=None,
                     id_prefix=ID_PREFIX)


class _EscapingRenderer(IPythonRenderer):
    """nbconvert's renderer with raw HTML escaped, mermaid blocks included (nbconvert inserts their
    text unescaped): its output equals the real rendering only when the markdown holds no HTML."""

    def block_mermaidjs(self, code: str) -> str:
        return super().block_mermaidjs(html.escape(code, quote=False))


@functools.lru_cache(maxsize=2)
def _parser(escaping: bool):
    """One parser per kind for cells without attachments (building one costs more than a cell)."""
    return MarkdownWithMath(renderer=_EscapingRenderer(escape=True) if escaping else IPythonRenderer(escape=False))


def _render(source: str, attachments: dict | None, escaping: bool) -> str:
    if not attachments:
        return _parser(escaping).render(source)
    renderer = (_EscapingRenderer(escape=True, attachments=attachments) if escaping
                else IPythonRenderer(escape=False, attachments=attachments))
    return MarkdownWithMath(renderer=renderer).render(source)


def render_markdown(source: str, attachments: dict | None = None) -> str:
    """The HTML that Formgrader and nbgrader's feedback make of a markdown cell."""
    return _render(source, attachments, escaping=False)


def _is_plain(source: str, rendered: str, attachments: dict | None) -> bool:
    """No raw HTML, and no link or image the sanitiser would drop (javascript:, vbscript:, ...)."""
    if _render(source, attachments, escaping=True) != rendered:
        return False
    if "<a " not in rendered and "<img " not in rendered:
        return True  # the renderer's own markup, with no URL in it
    return clean_html(rendered) == _clean_any_url(rendered)


def as_html_block(body: str, wrapper_open: str = WRAPPER_OPEN) -> str:
    """One line of HTML that a markdown renderer passes through unchanged (a blank line would end
    the HTML block; a newline character reference is the same text). wrapper_open: a <div> tag."""
    return wrapper_open + body.replace("\r", "&#13;").replace("\n", "&#10;") + WRAPPER_CLOSE


def markdown(source: str, attachments: dict | None = None) -> str:
    """A markdown cell's source, made safe to render; unchanged when it was safe already.
    attachments: the cell's, already cleaned (images referred to as attachment:NAME)."""
    if not isinstance(source, str):
        source = "".join(source)
    if not attachments:  # most cells are the instructor's, the same in every submission
        return _markdown_without_attachments(source)
    return _markdown(source, attachments)


@functools.lru_cache(maxsize=4096)
def _markdown_without_attachments(source: str) -> str:
    return _markdown(source, None)


def _markdown(source: str, attachments: dict | None) -> str:
    try:
        rendered = render_markdown(source, attachments)
    except Exception:  # noqa: BLE001 - e.g. a missing attachment: nbconvert could not show it either
        return as_html_block(NOTE + "<pre>" + html.escape(source, quote=False) + "</pre>")
    if _is_plain(source, rendered, attachments):
        return source
    cleaned = clean_html(rendered).strip()
    # a cell cleaned before: its one HTML block, unwrapped, so cleaning again gives the same text
    if cleaned.startswith(WRAPPER_OPEN) and cleaned.endswith(WRAPPER_CLOSE):
        cleaned = cleaned[len(WRAPPER_OPEN):-len(WRAPPER_CLOSE)]
    elif cleaned != _dangerous_kept(rendered).strip():
        cleaned = NOTE + cleaned
    return as_html_block(cleaned)


def _dangerous_kept(rendered: str) -> str:
    """The rendering with scripts, handlers and frames kept: differs from the cleaned one exactly
    when the sanitiser removed one of them (only used to decide whether to show the note)."""
    extra = {"script", "style", "iframe", "object", "embed", "form", "input", "button", "textarea", "svg",
             "math", "link", "meta", "base", "template", "noscript", "frame", "frameset", "audio", "video"}
    return nh3.clean(rendered, tags=TAGS | extra, clean_content_tags=set(), url_schemes=ANY_SCHEME,
                     attributes={**ATTRIBUTES, "*": ATTRIBUTES["*"] | {"style", "src", "href", "srcdoc", "action", "formaction"}},
                     generic_attribute_prefixes={"on"}, link_rel=None, id_prefix=ID_PREFIX)


def _image(value) -> str | None:
    """The image's base64 text as it was, or None when it is not base64 (nbconvert puts the text
    into an attribute unescaped: only the base64 alphabet and white space may pass)."""
    if not isinstance(value, str):
        return None
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return None
    return value if raw else None


def _text(value) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else str(value)


def _removed(mimes) -> str:
    return f"[output removed by the autograder: {', '.join(sorted(mimes))} can run code in the browser or is not shown]"


def output(out: dict) -> dict:
    """One cell output, made inert (a new dict; the kind of output is kept)."""
    kind = out.get("output_type")
    if kind == "stream":
        name = out.get("name") if out.get("name") in ("stdout", "stderr") else "stdout"
        return {"output_type": "stream", "name": name, "text": _text(out.get("text", ""))}
    if kind == "error":
        tb = out.get("traceback") if isinstance(out.get("traceback"), list) else []
        return {"output_type": "error", "ename": _text(out.get("ename", "")), "evalue": _text(out.get("evalue", "")),
                "traceback": [_text(t) for t in tb]}
    if kind not in ("execute_result", "display_data"):
        return {"output_type": "stream", "name": "stdout", "text": f"[an output of type {str(kind)[:40]!r} was removed by the autograder]\n"}
    data_in = out.get("data") if isinstance(out.get("data"), dict) else {}
    meta_in = out.get("metadata") if isinstance(out.get("metadata"), dict) else {}
    data, meta, dropped = {}, {}, []
    for mime, value in data_in.items():
        if mime in TEXT_MIMES:
            data[mime] = _text(value)
        elif mime == "text/html":
            data[mime] = clean_html(_text(value))
        elif mime == "text/markdown":
            data[mime] = markdown(_text(value))
        elif mime in IMAGE_MIMES and _image(value) is not None:
            data[mime] = _image(value)
            m = meta_in.get(mime) if isinstance(meta_in.get(mime), dict) else {}
            size = {k: int(m[k]) for k in ("width", "height")
                    if isinstance(m.get(k), (int, float)) and not isinstance(m.get(k), bool) and 0 < m[k] < 100_000}
            if size:
                meta[mime] = size
        else:
            dropped.append(str(mime)[:60])
    if dropped:
        note = _removed(dropped)
        data["text/plain"] = (data["text/plain"].rstrip("\n") + "\n" + note) if "text/plain" in data else note
    new = {"output_type": kind, "data": data, "metadata": meta}
    if kind == "execute_result":
        count = out.get("execution_count")
        new["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
    return new


def _attachments(att) -> dict:
    out = {}
    if not isinstance(att, dict):
        return out
    for name, bundle in att.items():
        if not isinstance(bundle, dict) or not isinstance(name, str):
            continue
        kept = {m: _image(v) for m, v in bundle.items() if m in IMAGE_MIMES and _image(v) is not None}
        if kept:
            out[name] = kept
    return out


def _cell_metadata(meta) -> dict:
    meta = meta if isinstance(meta, dict) else {}
    out = {}
    if isinstance(meta.get("nbgrader"), dict):
        out["nbgrader"] = meta["nbgrader"]  # checked by nbgrader's CheckCellMetadata
    tags = [t for t in meta.get("tags", []) if isinstance(t, str) and SAFE_TOKEN.fullmatch(t)] \
        if isinstance(meta.get("tags"), list) else []
    if tags:
        out["tags"] = tags
    return out


def _notebook_metadata(meta) -> dict:
    meta = meta if isinstance(meta, dict) else {}
    out = {}
    for key in ("kernelspec", "language_info"):
        if isinstance(meta.get(key), dict):
            kept = {k: v for k, v in meta[key].items()
                    if isinstance(k, str) and isinstance(v, str) and SAFE_TOKEN.fullmatch(v.replace(" ", "_").replace("(", "").replace(")", ""))}
            if kept:
                out[key] = kept
    return out


def notebook(nb):
    """Clean a notebook (nbformat 4 NotebookNode) in place and return it."""
    from nbformat import NotebookNode, from_dict

    nb.metadata = from_dict(_notebook_metadata(nb.get("metadata")))
    for cell in nb.cells:
        if "id" in cell and not (isinstance(cell["id"], str) and SAFE_CELL_ID.fullmatch(cell["id"])):
            cell["id"] = uuid.uuid4().hex[:12]
        cell.metadata = from_dict(_cell_metadata(cell.get("metadata")))
        if cell.get("cell_type") == "markdown":
            att = _attachments(cell.get("attachments"))
            if "attachments" in cell:
                if att:
                    cell.attachments = from_dict(att)
                else:
                    del cell["attachments"]
            cell.source = markdown(cell.get("source", ""), att)
        elif cell.get("cell_type") == "code":
            cell.outputs = [from_dict(output(o)) for o in cell.get("outputs", []) if isinstance(o, (dict, NotebookNode))]
        elif cell.get("cell_type") == "raw":
            cell.metadata = from_dict({})  # raw cells render as text; their format hint goes
    return nb


def notebook_text(text: str) -> str:
    """The same for a notebook as JSON text (what the grading jobs carry)."""
    import nbformat

    return nbformat.writes(notebook(nbformat.reads(text, as_version=4)))
