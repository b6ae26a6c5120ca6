"""Follow-up questions in a conversation: "那江汉呢?" after "武昌2021年固定资产投资目标" asks the same of
江汉区; "2019年的呢?" swaps the year; a follow-up with words of its own only gets the place or year it leaves
out."""

from __future__ import annotations

import re

from ingest.metadata import years_in
from ingest.places import find_places
from rag.english import is_english
from rag.scope import CorpusProfile

FOLLOW_UP_WORDS = re.compile(
    r"^(那么?|那|还有|以及|再问|and|what about|how about)\s*|\s*(呢|吧|的)?\s*[?？]?\s*$", re.I
)


def follow_up(question: str, previous: str | None, profile: CorpusProfile) -> str:
    """A follow-up question with the scope it leaves out taken from the previous one: "那江汉呢?" after
    "武昌2021年固定资产投资目标" is "江汉区2021年固定资产投资目标"; "2019年的呢?" keeps the place and swaps
    the year; a follow-up with words of its own only gets the place/year it lacks."""
    if not previous:
        return question
    held = tuple(profile.places.values())
    now_places, before_places = find_places(question, held), find_places(previous, held)
    now_years, before_years = years_in(question), years_in(previous)
    core = FOLLOW_UP_WORDS.sub("", question.strip())
    for m in now_places:
        core = core.replace(m.surface, "")
    core = re.sub(r"(19|20)\d{2}\s*年?|[年区县市省的]", "", core).strip(" ,，、")
    if not core and (now_places or now_years):  # only a new place and/or year: the previous question again
        rewritten = previous
        if now_places:
            name = now_places[0].surface if is_english(previous) else now_places[0].candidates[0].name
            if before_places:
                m = before_places[0]
                rewritten = rewritten[: m.start] + name + rewritten[m.end :]
            else:
                rewritten = name + rewritten
        if now_years:
            if before_years:
                rewritten = re.sub(rf"{before_years[0]}(?=\s*年)", str(now_years[0]), rewritten, count=1)
            else:
                rewritten = f"{now_years[0]}年{rewritten}"
        return rewritten
    prefix = ""
    if not now_places and before_places:
        prefix += before_places[0].candidates[0].name
    if not now_years and before_years:
        prefix += f"{before_years[0]}年"
    return prefix + question if prefix else question
