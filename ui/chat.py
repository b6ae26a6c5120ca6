"""The Gradio chat: answers with clickable [n] markers, a sources panel with the cited paragraphs
(document, district, section path, line range, the supporting quote highlighted), example questions,
follow-up scope inheritance, and upload of new reports. All document text is HTML-escaped."""

from __future__ import annotations

import html
import re

import gradio as gr

from rag.scope import inherit_scope
from rag.types import Answer

EXAMPLES = [
    "武昌2021年固定资产投资目标",
    "江汉区2018年地区生产总值是多少",
    "青山区“四水共治”包括哪几个方面",
    "2017年青山区和武昌区的招商引资总额分别是多少",
    "What was Wuchang District's GDP growth in the first half of 2019?",
    "武昌2022年固定资产投资目标",
]
CSS = """
.src-card {border:1px solid #d0d7de; border-radius:8px; padding:10px 12px; margin:8px 0; background:#fafbfc}
.src-head {font-weight:600; margin-bottom:4px}
.src-meta {color:#57606a; font-size:0.85em; margin-bottom:6px}
.src-text {white-space:pre-wrap; font-size:0.92em; line-height:1.5}
.src-text mark {background:#fff1a8; padding:0 1px}
.notfound {color:#9a6700; font-weight:600}
"""


def answer_markdown(answer: Answer) -> str:
    """The answer as chat markdown: escaped text, [n] turned into links to the source cards."""
    text = html.escape(answer.answer)
    text = re.sub(r"\[(\d+)\]", r"[[\1]](#src-\1)", text)
    if not answer.answerable:
        text = f"**未找到 / Not found** — {text}"
    if answer.note:
        text += f"\n\n_{html.escape(answer.note)}_"
    return text


def _highlight(text: str, quote: str) -> str:
    i = text.find(quote) if quote else -1
    if i < 0:
        return html.escape(text)
    return html.escape(text[:i]) + "<mark>" + html.escape(quote) + "</mark>" + html.escape(text[i + len(quote) :])


def sources_html(answer: Answer) -> str:
    """Source cards: the cited paragraphs, or for a not-found answer the closest passages."""
    cards = []
    if answer.citations:
        for c in answer.citations:
            meta = f"{html.escape(c.district or '')} · {html.escape(c.section)} · {html.escape(c.doc)} 第{c.start_line}–{c.end_line}行"
            cards.append(
                f'<div class="src-card" id="src-{c.n}"><div class="src-head">[{c.n}] {html.escape(c.title)}</div>'
                f'<div class="src-meta">{meta}</div><div class="src-text">{_highlight(c.text, c.quote)}</div></div>'
            )
        return "".join(cards)
    head = '<div class="notfound">报告中未找到答案。最接近的段落 / closest passages:</div>'
    for r in answer.retrieved[:3]:
        meta = f"{html.escape(r.district or '')} · {html.escape(r.section)} · {html.escape(r.doc)} 第{r.start_line}–{r.end_line}行"
        cards.append(
            f'<div class="src-card"><div class="src-head">{html.escape(r.title)}</div><div class="src-meta">{meta}</div>'
            f'<div class="src-text">{html.escape(r.text)}</div></div>'
        )
    return head + "".join(cards)


def build_chat(rag, settings) -> gr.Blocks:
    def respond(message: str, history: list, previous: str | None):
        message = (message or "").strip()
        if not message:
            return history, gr.update(), previous, ""
        if len(message) > settings.max_question_chars:
            history = history + [
                {"role": "user", "content": html.escape(message[:80]) + "…"},
                {"role": "assistant", "content": f"问题太长(最多 {settings.max_question_chars} 字)。"},
            ]
            return history, gr.update(), previous, ""
        question = inherit_scope(message, previous)
        answer = rag.ask(question)
        shown = html.escape(message) + (f"  \n_(按上文理解为:{html.escape(question)})_" if question != message else "")
        history = history + [{"role": "user", "content": shown}, {"role": "assistant", "content": answer_markdown(answer)}]
        return history, sources_html(answer), question, ""

    def upload(files, progress=gr.Progress()):
        if not files:
            return "没有选择文件 / no file chosen"
        progress(0.1, desc="ingesting")
        paths = [f if isinstance(f, str) else f.name for f in files]
        report = rag.add_files(paths)
        progress(1.0, desc="done")
        names = {p.rsplit("/", 1)[-1] for p in paths}
        added = [d for d in report.documents if d.doc in names]
        lines = [f"✔ {d.doc}: {d.district or '?'} {d.report_year or ''} · {d.chunks} chunks" for d in added]
        lines += [f"✘ {reason}" for name, reason in report.skipped if name in names]
        lines.append(f"index: {len(report.documents)} documents, {len(report.chunks)} chunks")
        return "\n".join(lines)

    with gr.Blocks(title="政府工作报告问答") as demo:
        gr.Markdown("## 政府工作报告问答 · Government work report QA\n每个回答都引用报告原文段落;报告中没有的内容会如实说明未找到。")
        previous = gr.State(None)
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="对话", height=460, elem_id="chat")
                box = gr.Textbox(placeholder="例如:武昌2021年固定资产投资目标", show_label=False, elem_id="question")
                with gr.Row():
                    send = gr.Button("提问 Ask", variant="primary", elem_id="ask")
                    clear = gr.Button("新对话 New chat")
                gr.Examples(EXAMPLES, inputs=box, label="示例问题 Examples")
            with gr.Column(scale=2):
                gr.Markdown("### 来源 Sources")
                sources = gr.HTML('<div class="src-meta">引用的段落会显示在这里。</div>', elem_id="sources")
        with gr.Accordion("上传报告 Upload reports (txt, html, pdf, docx)", open=False):
            files = gr.File(file_count="multiple", file_types=[".txt", ".html", ".htm", ".pdf", ".docx"])
            status = gr.Textbox(label="状态 Status", lines=4, interactive=False)
            gr.Button("导入 Ingest").click(upload, files, status)
        send.click(respond, [box, chatbot, previous], [chatbot, sources, previous, box])
        box.submit(respond, [box, chatbot, previous], [chatbot, sources, previous, box])
        clear.click(lambda: ([], "", None), None, [chatbot, sources, previous])
    demo.css = CSS
    return demo
