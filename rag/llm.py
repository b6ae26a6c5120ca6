"""The LLM answering path: prompt an OpenAI-compatible endpoint with numbered passages, verify the reply,
and fall back to the extractive answer whenever the reply can't be trusted or the endpoint fails.

`llm_answer` never raises for LLM failures: timeouts, connection and HTTP errors, malformed or empty
replies, and replies that fail verification (rag.verify) all return the extractive `fallback` with a note.
The note is shown to users: it names no URL and no server path (the log has the details).

A passage is data, never an instruction (rag/prompts.py says so to the model), but a model may obey one
anyway, and a number it copies from an uploaded passage passes verification. So a reply that leaves out a
document the extractive answer cites, while citing another document of the same place and report year (an
upload claiming to be that report), is not trusted either: both documents are shown, never the upload alone.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

from ingest.text import claimed_numbers, number_grounded
from ingest.types import Chunk
from rag.config import Settings
from rag.prompts import NOT_FOUND_SENTINEL, format_context, messages
from rag.types import Answer, Citation, ScoredChunk
from rag.verify import (
    parse_citations,
    split_sentences,
    strip_citations,
    verify_answer,
)

if TYPE_CHECKING:
    from llama_index.llms.openai_like import OpenAILike

log = logging.getLogger(__name__)

MAX_ANSWER_TOKENS = 800
SENTINEL = re.compile(r"<{0,2}\s*NOT_FOUND\s*>{0,2}")
THINKING = re.compile(r"<think>.*?(?:</think>|$)", re.S)  # reasoning models may prepend their thoughts
CHUNK_SENTENCE = re.compile(r"[^。\uff1b;\uff01!\uff1f?\n]+[。\uff1b;\uff01!\uff1f?]*")
MAX_QUOTE_CHARS = 300
NOT_FOUND_ZH = "报告中未找到能回答这个问题的内容。"
NOT_FOUND_EN = "Not found in these reports."


@lru_cache(maxsize=4)
def _client(base_url: str, model: str, api_key: str, timeout: float) -> OpenAILike:
    """One OpenAILike per endpoint, so its HTTP client and connections are reused across questions."""
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(
        model=model,
        api_base=base_url,
        api_key=api_key,
        is_chat_model=True,
        timeout=timeout,
        max_retries=0,
        temperature=0.0,
        max_tokens=MAX_ANSWER_TOKENS,
    )


def _chat(settings: Settings, chat: list[tuple[str, str]]) -> str:
    """One non-streaming chat completion; raises on any failure."""
    from llama_index.core.llms import ChatMessage

    llm = _client(
        settings.llm_base_url or "",
        settings.llm_model or "",
        settings.llm_api_key or "not-needed",
        settings.llm_timeout,
    )
    response = llm.chat([ChatMessage(role=role, content=content) for role, content in chat])
    content = response.message.content
    if not isinstance(content, str):
        raise ValueError("the reply has no message content")
    return content


def _reason(exc: Exception, settings: Settings) -> str:
    """A short, user-facing reason for an LLM failure: no endpoint URL, no exception text (either may name
    hosts or server paths); `llm_answer` logs those."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return f"timed out after {settings.llm_timeout:g} s"
    if isinstance(exc, openai.APIConnectionError):
        return "cannot connect to the LLM endpoint"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code} from the LLM endpoint"
    if isinstance(
        exc, (TypeError, KeyError, IndexError, AttributeError, ValueError, openai.APIResponseValidationError)
    ):
        return f"malformed response ({type(exc).__name__})"
    return type(exc).__name__


def _with_note(fallback: Answer, note: str) -> Answer:
    return fallback.model_copy(update={"note": note})


def _refusal(question: str, fallback: Answer) -> Answer:
    if not fallback.answerable:
        text = fallback.answer
    else:
        text = NOT_FOUND_ZH if re.search(r"[\u4e00-\u9fff]", question) else NOT_FOUND_EN
    return Answer(question=question, answer=text, answerable=False, citations=[], retrieved=fallback.retrieved,
                  latency_ms=fallback.latency_ms, mode="llm")  # fmt: skip


def _bigrams(text: str) -> set[str]:
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    return {text[i : i + 2] for i in range(len(text) - 1)}


def best_quote(chunk: Chunk, claim: str) -> str:
    """The sentence(s) of `chunk.text` supporting `claim`: those stating the claim's numbers (the span from
    the first to the last of them when it is short), else the one sharing most character bigrams.
    Always a substring of `chunk.text`."""
    spans = [(m.start(), m.end()) for m in CHUNK_SENTENCE.finditer(chunk.text) if m.group(0).strip()]
    if not spans:
        return chunk.text
    numbers = claimed_numbers(claim)
    claim_bigrams = _bigrams(strip_citations(claim))

    def score(span: tuple[int, int]) -> tuple[int, float]:
        text = chunk.text[span[0] : span[1]]
        hits = sum(number_grounded(n, [text]) for n in numbers)
        overlap = len(claim_bigrams & _bigrams(text)) / (len(claim_bigrams) or 1)
        return hits, overlap

    scores = [score(span) for span in spans]
    best = max(range(len(spans)), key=lambda i: scores[i])
    with_numbers = [i for i, s in enumerate(scores) if s[0]]
    start, end = spans[best]
    if len(with_numbers) > 1 and scores[best][0] < len(numbers):
        first, last = spans[with_numbers[0]][0], spans[with_numbers[-1]][1]
        if last - first <= MAX_QUOTE_CHARS:
            start, end = first, last
    return chunk.text[start:end].strip()


def _left_out_rival(cited: list[Chunk], fallback: Answer) -> Citation | None:
    """A document the extractive answer cites that the LLM's reply leaves out while citing another document
    of the same place and report year (two documents claiming to be the same report), or None."""
    claimed = {(c.place, c.report_year): c.doc for c in cited if c.place and c.report_year}
    docs = {c.doc for c in cited}
    for c in fallback.citations:
        other = claimed.get((c.place, c.report_year))
        if c.doc not in docs and other is not None:
            return c
    return None


def _citations(text: str, given: list[Chunk], cited: list[int]) -> list[Citation]:
    """One Citation per cited passage, quoting what supports the sentences that cite it."""
    sentences = split_sentences(text)
    citations = []
    for n in cited:
        claims = [s for s in sentences if n in parse_citations(s)] or sentences
        citations.append(Citation.from_chunk(n, given[n - 1], best_quote(given[n - 1], "".join(claims))))
    return citations


def llm_answer(question: str, retrieved: list[ScoredChunk], settings: Settings, fallback: Answer) -> Answer:
    """Answer `question` with the LLM from the in-scope `retrieved` chunks, verified; else `fallback` + note."""
    chunks = [sc.chunk for sc in retrieved if sc.in_scope]
    if not chunks:
        return _with_note(
            fallback,
            "LLM not asked (no retrieved passage in the question's scope); showing the extractive answer.",
        )
    context, given = format_context(chunks, settings.llm_context_tokens)
    if not given:
        budget = settings.llm_context_tokens
        return _with_note(
            fallback,
            f"LLM not asked (context budget of {budget} tokens too small); showing the extractive answer.",
        )
    try:
        reply = _chat(settings, messages(question, context))
    except Exception as exc:  # never raise for LLM failures: fall back instead
        log.warning("LLM call to %s (model %s) failed: %r", settings.llm_base_url, settings.llm_model, exc)
        return _with_note(
            fallback, f"LLM unavailable ({_reason(exc, settings)}); showing the extractive answer."
        )
    text = THINKING.sub("", reply).strip()
    if not text:
        return _with_note(fallback, "LLM unavailable (empty reply); showing the extractive answer.")
    if NOT_FOUND_SENTINEL in text or SENTINEL.search(text):
        return _refusal(question, fallback)
    result = verify_answer(text, given)
    if not result.ok:
        log.info("LLM answer rejected: %s", result.problems)
        problems = "; ".join(result.problems[:3]) + ("; …" if len(result.problems) > 3 else "")
        return _with_note(fallback, f"LLM answer rejected ({problems}); showing the extractive answer.")
    if (rival := _left_out_rival([given[n - 1] for n in result.cited], fallback)) is not None:
        log.warning("LLM answer left out %s, a rival of a document it cites; not trusted", rival.doc)
        return _with_note(
            fallback,
            f"LLM answer not used: it leaves out {rival.doc}, another report of {rival.place} "
            f"{rival.report_year}; showing the extractive answer.",
        )
    return Answer(question=question, answer=text, answerable=True, citations=_citations(text, given, result.cited),
                  retrieved=fallback.retrieved, latency_ms=fallback.latency_ms, mode="llm")  # fmt: skip
