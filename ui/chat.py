"""The Gradio chat: answers with clickable [n] markers, a sources panel with the cited paragraphs
(document, place, section path, line range, the supporting quote highlighted, and for an added document who
added it and when), what the corpus covers (places × years) with example questions drawn from it, follow-up
scope inheritance, upload of new reports and the indexing progress.

All report text is HTML-escaped before it reaches the page: HTML or script inside a report is shown as
text, never run."""

from __future__ import annotations

import html
import logging
import re
import uuid
from pathlib import Path

import gradio as gr

from ingest.readers import SUPPORTED_SUFFIXES
from rag.follow_up import follow_up
from rag.types import Answer
from ui.limits import public_message

log = logging.getLogger("rag.chat")
FONTS = [
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "PingFang SC",
    "Microsoft YaHei",
    "sans-serif",
]
CITE_MARK = re.compile(r"\[(\d+)\]")
CSS = """
.src-card {border:1px solid #d0d7de; border-radius:8px; padding:10px 12px; margin:8px 0; background:#fafbfc;
  scroll-margin-top:12px}
.src-card:target {border-color:#e8590c; box-shadow:0 0 0 2px #ffd8a8}
.src-head {font-weight:600; margin-bottom:4px}
.src-meta {color:#57606a; font-size:0.85em; margin-bottom:6px}
.src-text {white-space:pre-wrap; font-size:0.92em; line-height:1.55; max-height:22em; overflow-y:auto}
.src-text mark {background:#fff1a8; padding:0 1px}
.notfound {color:#9a6700; font-weight:600}
a.cite {text-decoration:none; font-weight:600; color:#0969da}
.rewritten {color:#57606a; font-size:0.85em}
.added {color:#9a3412; font-size:0.85em}
"""


def _escape_lines(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


def answer_html(answer: Answer) -> str:
    """The answer for the chat: escaped text with each [n] a link to its source card.

    One line of HTML (no blank lines), so the chat's Markdown renderer leaves it as it is."""
    text = CITE_MARK.sub(r'<a class="cite" href="#src-\1">[\1]</a>', _escape_lines(answer.answer))
    if not answer.answerable:
        text = f'<span class="notfound">未找到 / Not found</span> — {text}'
    if answer.note:
        text += f"<br><i>{_escape_lines(answer.note)}</i>"
    return f'<div class="answer">{text}</div>'


def highlight(text: str, quote: str) -> str:
    """`text` escaped, with `quote` (matched ignoring white space) wrapped in <mark>."""
    i, j = (text.find(quote), text.find(quote) + len(quote)) if quote else (-1, -1)
    if quote and i < 0:
        loose = re.search(r"\s*".join(re.escape(ch) for ch in re.sub(r"\s+", "", quote)), text)
        i, j = (loose.start(), loose.end()) if loose else (-1, -1)
    if i < 0:
        return html.escape(text)
    return f"{html.escape(text[:i])}<mark>{html.escape(text[i:j])}</mark>{html.escape(text[j:])}"


def _card(anchor: str, head: str, chunk, body: str) -> str:
    place = " > ".join(getattr(chunk, "place_chain", None) or []) or chunk.place or ""
    meta = " · ".join(
        html.escape(part)
        for part in (place, chunk.section, f"{chunk.doc} 第{chunk.start_line}–{chunk.end_line}行")
        if part
    )
    source = getattr(chunk, "source", None)
    if source in ("added", "upload"):
        who = f"{chunk.added_by} " if getattr(chunk, "added_by", None) else ""
        meta += f'<div class="added">用户添加的文件 / added by {html.escape(who)}{html.escape(chunk.added_at or "")}</div>'
    return (
        f'<div class="src-card"{anchor}><div class="src-head">{head}</div>'
        f'<div class="src-meta">{meta}</div><div class="src-text">{body}</div></div>'
    )


def sources_html(answer: Answer) -> str:
    """Source cards: the cited paragraphs, or for a not-found answer the closest passages."""
    if answer.citations:
        return "".join(
            _card(f' id="src-{c.n}"', f"[{c.n}] {html.escape(c.title)}", c, highlight(c.text, c.quote))
            for c in answer.citations
        )
    head = '<div class="notfound">报告中未找到答案。最接近的段落 / Closest passages:</div>'
    cards = (
        _card("", f"{html.escape(r.title)} <small>(score {r.score:.2f})</small>", r, html.escape(r.text))
        for r in answer.retrieved[:3]
    )
    return head + "".join(cards)


def _user_turn(message: str, question: str) -> str:
    shown = _escape_lines(message)
    if question != message:
        shown += f'<br><span class="rewritten">按上文理解为 / understood as: {html.escape(question)}</span>'
    return f"<div>{shown}</div>"


def received_by_gradio(path: Path, upload_dir: Path) -> bool:
    """Whether `path` is a regular file that Gradio's upload route stored in `upload_dir` (no link, no file
    elsewhere on the server named by a forged request)."""
    try:
        resolved = Path(path).resolve(strict=True)
        root = Path(upload_dir).resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return resolved.is_relative_to(root) and resolved.is_file() and not Path(path).is_symlink()


INDICATORS = ["生产总值", "固定资产投资", "社会消费品零售总额", "一般公共预算收入", "城镇新增就业"]


def example_questions(snapshot, limit: int = 7) -> list[str]:
    """Questions a newcomer can try, drawn from what is indexed: a target of each place's latest report, a
    follow-up, a coined programme name, an English question and one the corpus cannot answer (a neighbouring
    place it holds no report of), so that the honest refusal is shown too."""
    from pypinyin import lazy_pinyin

    from ingest.places import gazetteer, short_form
    from ingest.text import match_form
    from rag.lexical import coined_terms

    profile = snapshot.profile
    latest = sorted(((max(ys), name) for name, ys in profile.report_years.items() if ys), reverse=True)
    out: list[str] = []
    for year, name in latest[:3]:
        plans = [c for c in snapshot.chunks if c.place == name and c.report_year == year and c.kind == "plan"]
        indicator = next((t for t in INDICATORS if any(t in match_form(c.clean) for c in plans)), None)
        if indicator:
            out.append(
                f"{short_form(name) or name}{year}年{'地区' if indicator == '生产总值' else ''}{indicator}目标是多少"
            )
    if len(latest) > 1 and out:
        out.insert(1, f"那{short_form(latest[1][1]) or latest[1][1]}呢?")
    terms = sorted(coined_terms(c.clean for c in snapshot.chunks[:400]), key=len)
    if terms:
        out.append(f"“{terms[len(terms) // 2]}”是什么意思")
    if latest:
        year, name = latest[0]
        pinyin = "".join(lazy_pinyin(short_form(name) or name)).capitalize()
        out.append(f"What GDP growth target did {pinyin} set for {year}?")
        place = profile.places[name]
        siblings = [
            q for q in gazetteer().all_places()
            if q.chain[:-1] == place.chain[:-1] and q.level == place.level and q.name not in profile.places
        ]  # fmt: skip
        if siblings:
            out.append(f"{short_form(siblings[0].name) or siblings[0].name}{year}年固定资产投资目标")
    return out[:limit]


def build_chat(rag, settings) -> gr.Blocks:
    def respond(message: str, history: list, previous: str | None):
        message = (message or "").strip()
        if not message:
            return history, gr.update(), previous, ""
        if len(message) > settings.max_question_chars:
            reply = f"问题太长(最多 {settings.max_question_chars} 字)/ Question longer than {settings.max_question_chars} characters."
            turn = [{"role": "user", "content": _user_turn(message[:80] + "…", message[:80] + "…")}]
            return history + turn + [{"role": "assistant", "content": reply}], gr.update(), previous, ""
        question = follow_up(message, previous, rag.snapshot.profile)
        try:
            answer = rag.ask(question)
        except Exception:  # keep the chat usable; the log has the traceback, the user a reference to it
            reference = uuid.uuid4().hex[:8]
            log.exception("internal error %s answering in the chat", reference)
            gr.Warning(f"出错了 / internal error (reference {reference})")
            return history, gr.update(), previous, message
        turn = [{"role": "user", "content": _user_turn(message, question)}]
        turn.append({"role": "assistant", "content": answer_html(answer)})
        return history + turn, sources_html(answer), question, ""

    def _index_line() -> str:
        h = rag.health()
        line = f"**本库包含 Corpus:** {rag.snapshot.profile.describe() or '(empty)'} · {h['documents']} documents, {h['chunks']} chunks"
        job = h.get("indexing") or {}
        if job.get("running"):
            eta = f", ~{job['eta_s']:.0f} s left" if job.get("eta_s") else ""
            line += f" · 正在计算向量 indexing {job['done']}/{job['total']}{eta} (answers use keyword search until then)"
        return line

    def upload(files, progress=gr.Progress(track_tqdm=True)):  # noqa: B008 (Gradio's way to ask for progress)
        paths = [Path(f if isinstance(f, str) else f.name) for f in files or []]
        if not paths:
            return "没有选择文件 / No file chosen.", _index_line()
        if not all(received_by_gradio(p, settings.gradio_temp_dir) for p in paths):
            return (
                "✘ 只能导入通过本页面上传的文件 / Only files uploaded through this page can be ingested.",
                _index_line(),
            )
        lines = [
            f"✘ {p.name}: unsupported file type" for p in paths if p.suffix.lower() not in SUPPORTED_SUFFIXES
        ]
        readable = [p for p in paths if p.suffix.lower() in SUPPORTED_SUFFIXES]
        if readable:
            progress(0, desc="ingesting")
            try:
                report = rag.add(readable, source="upload", added_by="chat")
            except Exception:  # the corpus stays as it was; the log has the details
                reference = uuid.uuid4().hex[:8]
                log.exception("upload failed (reference %s)", reference)
                failed = f"✘ ingest failed (the corpus is unchanged; reference {reference})"
                return "\n".join(lines + [failed]), _index_line()
            lines += [
                f"✔ {d.doc}: {' > '.join(d.place_chain) or d.place or '?'} {d.report_year or ''} · {d.chunks} chunks · {d.title[:40]}"
                for d in report.added + report.updated
            ]
            lines += [f"• {note}" for note in report.notes]
            lines += [f"✘ {reason}" for _name, reason in report.skipped]
        return public_message("\n".join(lines)), _index_line()  # reasons name files, never server paths

    examples_list = example_questions(rag.snapshot)
    # Gradio's uploads are deleted an hour after they arrive (checked every 30 minutes).
    with gr.Blocks(title="政府工作报告问答", delete_cache=(1800, 3600)) as demo:
        gr.Markdown(
            "## 政府工作报告问答 · Government work report QA\n"
            "每个回答都引用报告原文段落;报告中没有的内容会如实说明未找到。追问(如“那……呢?”)沿用上一问的地方和年份。"
        )
        index_line = gr.Markdown(_index_line(), elem_id="coverage")
        previous = gr.State(None)
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="对话 Chat", height=460, elem_id="chat", latex_delimiters=[])
                box = gr.Textbox(
                    placeholder=f"例如:{examples_list[0]}" if examples_list else "",
                    show_label=False,
                    elem_id="question",
                )
                with gr.Row():
                    send = gr.Button("提问 Ask", variant="primary", elem_id="ask")
                    clear = gr.Button("新对话 New chat", elem_id="new-chat")
                examples = gr.Examples(
                    examples_list or ["政府工作报告"], inputs=box, label="示例问题 Examples (click to ask)"
                )
            with gr.Column(scale=2):
                gr.Markdown("### 来源 Sources")
                sources = gr.HTML('<div class="src-meta">引用的段落会显示在这里。</div>', elem_id="sources")
        with gr.Accordion(
            "上传报告 Upload reports (txt, html, pdf, docx)", open=False, elem_id="upload-accordion"
        ):
            files = gr.File(file_count="multiple", file_types=sorted(SUPPORTED_SUFFIXES), elem_id="upload")
            ingest = gr.Button("导入 Ingest", elem_id="ingest")
            status = gr.Textbox(label="状态 Status", lines=4, interactive=False, elem_id="upload-status")
        ask_io = ([box, chatbot, previous], [chatbot, sources, previous, box])
        send.click(respond, *ask_io)
        box.submit(respond, *ask_io)
        examples.load_input_event.then(respond, *ask_io)
        ingest.click(upload, files, [status, index_line])
        clear.click(lambda: ([], "", None), None, [chatbot, sources, previous])
        demo.load(_index_line, None, index_line)
        gr.Timer(5.0).tick(_index_line, None, index_line)  # indexing progress while vectors are computed
    demo.queue(default_concurrency_limit=4)  # the pipeline is thread-safe; answers take ~0.1 s
    demo.css = CSS
    return demo
