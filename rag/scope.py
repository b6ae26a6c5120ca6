"""What a corpus covers (places × years) and whether a chunk lies in a question's scope.

`CorpusProfile` is built once per index snapshot from the chunks: the places whose governments issued the
reports (with their parent chains from the gazetteer) and, per place, the years its reports speak about (the
report year, the year reviewed, the years of its sections and plan periods). Question understanding uses it
to resolve place names ("青山" → the 青山区 the corpus holds) and to refuse a place or year it does not hold,
naming what it does hold. It also keeps the names the reports coin in quotes, so that a question naming
one without quotes ("三区两翼是什么") asks about that name as a whole.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ingest.metadata import years_in
from ingest.places import gazetteer
from ingest.types import Chunk, Place
from rag.lexical import coined_terms


@dataclass
class CorpusProfile:
    places: dict[str, Place] = field(default_factory=dict)  # full name → Place, for every report's place
    years: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))  # place name → years covered
    report_years: dict[str, set[int]] = field(
        default_factory=lambda: defaultdict(set)
    )  # place → report years
    names: frozenset[str] = frozenset()  # names the reports coin in quotes (“四水共治”, “一轴两区三城”)

    @classmethod
    def from_chunks(cls, chunks: list[Chunk]) -> CorpusProfile:
        profile = cls()
        g = gazetteer()
        for c in chunks:
            if not c.place:
                continue
            if c.place not in profile.places:
                place = g.by_name(" > ".join(c.place_chain) or c.place) or Place(
                    code="", name=c.place, level=c.level or "county", chain=tuple(c.place_chain) or (c.place,)
                )
                profile.places[c.place] = place
            covered = profile.years[c.place]
            if c.report_year:
                profile.report_years[c.place].add(c.report_year)
                covered.update({c.report_year, c.report_year - 1})
            if c.section_year:
                covered.add(c.section_year)
            if c.period:
                covered.update(range(c.period[0], c.period[1] + 1))
            covered.update(years_in(c.clean))  # "修订后2023年地区生产总值…": the years it speaks of
        profile.names = frozenset(n for n in coined_terms(c.clean for c in chunks) if len(n) >= 3)
        return profile

    def held(self, place: Place) -> bool:
        return place.name in self.places

    def held_ancestor(self, place: Place) -> Place | None:
        """The held place that `place` lies under (唐山市 → 河北省 when the corpus holds 河北省's report)."""
        for name in reversed(place.chain[:-1]):
            if name in self.places:
                return self.places[name]
        return None

    def latest_year(self, places: tuple[Place, ...] = ()) -> int | None:
        names = [p.name for p in places] or list(self.report_years)
        years = [y for n in names for y in self.report_years.get(n, ())]
        return max(years) if years else None

    def describe(self) -> str:
        """'武昌区 (2018, 2019, 2021)、江汉区 (2019)' — what can be asked."""
        parts = []
        for name in sorted(self.places, key=lambda n: self.places[n].code or n):
            years = sorted(self.report_years.get(name, ()))
            parts.append(f"{name} ({', '.join(map(str, years))})" if years else name)
        return "、".join(parts)


def chunk_in_scope(
    chunk: Chunk,
    places: tuple[Place, ...],
    years: tuple[int, ...],
    period: tuple[int, int] | None,
    report_years: tuple[int, ...] = (),
) -> bool:
    """Does the chunk belong to the places and years a question asks about: its section is about the year,
    or it is about a plan period that holds the year (asked about the period: only chunks about that period),
    or it is in a report the question names by its year ("2018年报告里的…").
    `rag.retrieve.Retriever.in_scope` computes the same for every chunk at once."""
    if places and chunk.place not in {p.name for p in places}:
        return False
    if period:
        return chunk.period == period or (chunk.section_year is not None and chunk.section_year == period[1])
    if years:
        if chunk.section_year in years or chunk.report_year in report_years:
            return True
        return (
            chunk.section_year is None
            and chunk.period is not None
            and any(chunk.period[0] <= y <= chunk.period[1] for y in years)
        )
    return True
