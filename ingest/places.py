"""Places: a gazetteer of Chinese administrative divisions, and the place names a text mentions.

Gazetteer: `cpca/resources/adcodes.csv` of the PyPI package cpca (MIT; 3,511 divisions, GB/T 2260 codes), read
as a data file (the cpca module itself needs pkg_resources). The chain of parents comes from the code (PP0000
province, PPCC00 prefecture-level city, else county level), placeholders (市辖区, 县, 省直辖县级行政区划)
skipped: 上海市 > 浦东新区. The country is `national()`, 全国. Names of a place: its full name; one short form
(`short_form`: 上海, 内蒙古, 广西, 海拉尔; at least 2 characters); the pinyin of that (pypinyin: Anhui,
Wuchang) and the English names of data/english_places.tsv (Inner Mongolia, Hailar), with an optional level
word ("Wuchang District").

Mentions (`find_places`): a name counts only where jieba, with every name in its dictionary, cuts it out as a
word, so 绿水青山 and 青山绿水 name no place. A county's short form (青山, 江汉, 新建) also needs context: the
start of the text or another place right before it (青山固投, 武汉青山, 武昌和江汉), or after it a year, 呢/吗,
or 的 after punctuation (青山2018年, 那江汉呢, ，青山的); a city's short form may also follow punctuation. So
金山银山, 红钢城, "民族复兴的" and "，新建60个" name none. A full name with a one-character stem (城区, 和县)
counts only right after another place (大同市城区). A name several places share (青山: 武汉市青山区,
包头市青山区) keeps the candidates closest to the context given (the same place, under it, over it, in its
city, in its province), failing that to the places the text names; else all, best first.

Longer than ~300 lines: the gazetteer, its name rules and the mention finder share one set of indexes.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ingest.text import DATA, jieba_dictionary
from ingest.types import Place

NATIONAL = Place(code="000000", name="全国", level="national", chain=("全国",))
NATIONAL_NAMES = ("全国", "中国")
PLACEHOLDER = re.compile(r"^(市辖区|县|.*直辖县级行政区划)$")
SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "自治旗", "新区", "林区", "特区", "矿区", "地区")
SUFFIXES += tuple("省市区县旗盟")
LEVEL_RANK = {"national": 0, "province": 1, "city": 2, "county": 3}
YEAR_AFTER = re.compile(r"\s*(?:19|20)\d{2}(?:年|(?![\d\u4e00-\u9fff]))")
EN_LEVELS = {  # English level word → the Chinese suffixes it translates
    "province": ("省",), "autonomous region": ("自治区",), "municipality": ("市",), "city": ("市",),
    "special administrative region": ("特别行政区",), "sar": ("特别行政区",), "prefecture": ("州", "地区"),
    "league": ("盟",), "district": ("区",), "county": ("县",), "banner": ("旗",),
}  # fmt: skip
EN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    surface: str
    candidates: tuple[Place, ...]  # best first; more than one: ambiguous


def _data_lines(name: str) -> list[list[str]]:
    text = (DATA / name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=1)
def _ethnic_forms() -> tuple[str, ...]:
    names = [cells[0].strip() for cells in _data_lines("ethnic_groups.txt")]
    forms = [n + "族" for n in names] + [n for n in names if len(n) >= 2]  # 维吾尔 is written without 族
    return tuple(sorted(forms, key=len, reverse=True))


def short_form(name: str) -> str | None:
    """The name without its level suffix (and, for an autonomous area, its ethnic names), if at least two
    characters remain and they are not an ethnic name themselves."""
    suffix = next((s for s in SUFFIXES if name.endswith(s)), None)
    if suffix is None:
        return None
    stem = name[: -len(suffix)]
    if suffix.startswith("自治"):
        forms = _ethnic_forms()
        while form := next((f for f in forms if stem.endswith(f) and len(stem) - len(f) >= 2), None):
            stem = stem[: -len(form)]
        if stem in forms:
            return None
    return stem if len(stem) >= 2 else None


def _adcodes() -> str:
    spec = importlib.util.find_spec("cpca")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the gazetteer needs the package cpca (its data file resources/adcodes.csv)")
    folder = Path(next(iter(spec.submodule_search_locations)))
    return (folder / "resources" / "adcodes.csv").read_text(encoding="utf-8")


def _pinyin(place: Place, short: str) -> set[str]:
    from pypinyin import lazy_pinyin

    # the short form alone and as the head of the full name: heteronyms read differently (朝阳区 chaoyang)
    readings = {tuple(lazy_pinyin(short)), tuple(lazy_pinyin(place.name)[: len(short)])}
    keys = set()
    for syllables in readings:
        keys.add("".join(syllables))
        keys.add("".join(s if i == 0 or s[0] not in "aeo" else "'" + s for i, s in enumerate(syllables)))
    return {k for k in keys if len(k) >= 4 and k.isascii()}


class Gazetteer:
    def __init__(self, places: list[Place]):
        self._places = places
        self._by_code = {p.code: p for p in places}
        self._full: dict[str, list[Place]] = defaultdict(list)
        self.zh: dict[str, dict[str, list[Place]]] = defaultdict(lambda: defaultdict(list))  # kind → places
        self._en: dict[str, list[Place]] | None = None  # English and pinyin names: built when first needed
        self.short: dict[str, str] = {}  # code → short form
        for name in NATIONAL_NAMES:
            self.zh[name]["full"].append(NATIONAL)
        for p in places:
            self._full[p.name].append(p)
            if p == NATIONAL:
                continue
            short = short_form(p.name)
            suffix = next((s for s in SUFFIXES if p.name.endswith(s)), "")
            self.zh[p.name]["qualified" if len(p.name) - len(suffix) < 2 else "full"].append(p)
            if short:
                self.short[p.code] = short
                self.zh[short][{"province": "strong", "city": "city"}.get(p.level, "weak")].append(p)
        self.zh_lengths: dict[str, list[int]] = defaultdict(list)  # first character → key lengths
        for key in sorted(self.zh, key=len, reverse=True):
            self.zh_lengths[key[0]] += [len(key)] if len(key) not in self.zh_lengths[key[0]] else []

    @property
    def en(self) -> dict[str, list[Place]]:
        """English names: pinyin of every short form, and the conventional names of data/english_places.tsv
        (built on first use: pinyin for 3,500 names takes a second, and Chinese questions never need it)."""
        if self._en is None:
            en: dict[str, list[Place]] = defaultdict(list)
            pinyin: dict[str, list[Place]] = defaultdict(list)
            for p in self._places:
                if p.code in self.short:
                    for key in _pinyin(p, self.short[p.code]):
                        pinyin[key].append(p)
            english = {self.by_name(cells[0]): cells[1:] for cells in _data_lines("english_places.tsv")}
            for p, names in english.items():
                for name in names:
                    en[name.strip().lower()].append(p)
            for key, owners in pinyin.items():
                # a conventional English name replaces a pinyin another place shares (陕西 Shaanxi, not Shanxi)
                kept = [p for p in owners if not (p in english and len(owners) > 1)]
                en[key].extend(kept or owners)
            self._en = en
            self.en_lengths = sorted({k.count(" ") + 1 for k in en}, reverse=True)
        return self._en

    def all_places(self) -> list[Place]:
        return list(self._places)

    def by_code(self, code: str) -> Place | None:
        return self._by_code.get(code[:6].ljust(6, "0")) if code else None

    def by_name(self, full_name: str) -> Place | None:
        """The place with this full name (全国 for the country), or named with its parents (武汉市青山区,
        湖北省 > 武汉市 > 青山区); None when unknown or when several places have the name (青山区)."""
        name = re.sub(r"\s*>\s*|\s+", "", full_name)
        found = self._full.get(name, [])
        if len(found) == 1:
            return found[0]
        if name == NATIONAL.name:
            return NATIONAL
        ends = [
            p for ps in self._full.values() for p in ps if name.endswith(p.name) and len(name) > len(p.name)
        ]
        qualified = [p for p in ends if len(p.chain) > 1 and "".join(p.chain).endswith(name)]
        return qualified[0] if len(qualified) == 1 else None

    def lookup(self, key: str) -> list[Place]:
        """Every place a single name may stand for (full, short, pinyin or English name), unranked."""
        found = [p for places in self.zh.get(key, {}).values() for p in places]
        return list(dict.fromkeys(found + self.en.get(re.sub(r"\s+", " ", key.strip().lower()), [])))


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    rows = {row["adcode"][:6]: row["name"].strip() for row in csv.DictReader(io.StringIO(_adcodes()))}
    places = [NATIONAL]
    for code in sorted(rows):
        name = rows[code]
        if PLACEHOLDER.match(name):
            continue
        level = "province" if code[2:] == "0000" else "city" if code[4:] == "00" else "county"
        parents = [code[:2] + "0000"] + ([code[:4] + "00"] if level == "county" else [])
        chain = [rows[c] for c in parents if c != code and c in rows and not PLACEHOLDER.match(rows[c])]
        places.append(Place(code=code, name=name, level=level, chain=(*chain, name)))  # type: ignore[arg-type]
    return Gazetteer(places)


def national() -> Place:
    return NATIONAL


@lru_cache(maxsize=1)
def _tokenizer():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()  # our own: the process-wide one (BM25's) keeps its dictionary
    jieba_dictionary()  # … whose loaded dictionary is copied rather than read from disk again
    tokenizer.FREQ, tokenizer.total, tokenizer.initialized = dict(jieba.dt.FREQ), jieba.dt.total, True
    for key in gazetteer().zh:
        if len(key) >= 2:
            tokenizer.add_word(key)
    return tokenizer


def _cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or ch == "〇"


def _under(a: Place, b: Place) -> bool:
    if b.level == "national":
        return a.level != "national"
    return len(a.chain) > len(b.chain) and a.chain[: len(b.chain)] == b.chain


def _tier(p: Place, c: Place) -> int | None:
    """0 the same place, 1 under c, 2 over c, 3 in c's city, 4 in c's province, None unrelated."""
    if p.chain == c.chain:
        return 0
    if _under(p, c) or _under(c, p):
        return 1 if _under(p, c) else 2
    if p.level == c.level == "county" and p.chain[:-1] == c.chain[:-1]:
        return 3
    return 4 if "national" not in (p.level, c.level) and p.chain[0] == c.chain[0] else None


def _rank(candidates: Iterable[Place], *contexts: tuple[Place, ...]) -> tuple[Place, ...]:
    """Candidates by level then code, narrowed by the first context that relates to any of them."""
    ranked = tuple(sorted(dict.fromkeys(candidates), key=lambda p: (LEVEL_RANK[p.level], p.code)))
    for context in contexts:
        if len(ranked) < 2 or not context:
            continue
        tiers = {p: min((t for c in context if (t := _tier(p, c)) is not None), default=None) for p in ranked}
        if (best := min((t for t in tiers.values() if t is not None), default=None)) is not None:
            return tuple(p for p in ranked if tiers[p] == best)
    return ranked


def _compound(token: str, g: Gazetteer) -> list[str]:
    """A word of jieba's dictionary made of full place names (上海市浦东新区) as those names, else itself."""
    parts, i = [], 0
    while i < len(token):
        n = next((n for n in g.zh_lengths.get(token[i], ()) if "full" in g.zh.get(token[i : i + n], {})), 0)
        if not n:
            return [token]
        parts.append(token[i : i + n])
        i += n
    return parts


def _chinese(text: str, g: Gazetteer) -> list[Mention]:
    ends: dict[int, int] = {}
    pos = 0
    for token in _tokenizer().cut(text, HMM=False):
        for word in _compound(token, g):
            ends[pos] = pos + len(word)
            pos += len(word)
    bounds = set(ends) | {len(text)}
    out: list[Mention] = []
    i, last = 0, None  # last: the place named before, if any (not the country)
    while i < len(text):
        for n in g.zh_lengths.get(text[i], ()):
            kinds = g.zh.get(text[i : i + n]) if i + n <= len(text) else None
            if not kinds:
                continue
            j, word, full = i + n, ends.get(i) == i + n, i in bounds and i + n in bounds
            prev, nxt = text[i - 1] if i else "", text[j] if j < len(text) else ""
            cue = (
                not prev.strip(" \t")  # the start of the text: 青山固投多少
                or bool(YEAR_AFTER.match(text, j))  # 青山2018年
                or (bool(nxt) and nxt in "呢吗")  # 那江汉呢
                or (nxt == "的" and not _cjk(prev))  # ，青山的
            )
            found: list[Place] = []
            for kind, places in kinds.items():
                ok = {
                    "full": full,
                    "strong": word,
                    "city": word and (cue or not _cjk(prev)),
                    "weak": word and cue,
                }
                if ok.get(kind):  # a province's short form wherever jieba cuts it, a city's also after ，
                    found += places
                elif last and (word if kind == "weak" else full and kind == "qualified"):
                    beside = kind == "weak" and last.end == i - 1 and bool(prev) and prev in "和与及、"
                    if last.end == i or beside:  # under the place just named, or beside it
                        found += [p for p in places if _follows(p, last.candidates, beside)]
            if found:
                out.append(Mention(i, j, text[i:j], tuple(dict.fromkeys(found))))
                last = out[-1] if NATIONAL not in found else None
                i = j
                break
        else:
            i += 1
    return out


def _follows(p: Place, before: tuple[Place, ...], beside: bool) -> bool:
    """Right after `before` (武汉青山, 大同市城区) a place under it; after "before和" also one beside it."""
    return any(_under(p, q) or (beside and p.chain[:-1] == q.chain[:-1]) for q in before)


def _english(text: str, g: Gazetteer) -> list[Mention]:
    words = list(EN_WORD.finditer(text))
    if not any(len(w.group(0)) >= 4 for w in words):  # "GDP", "CPI": every English or pinyin name is longer
        return []  # … and the pinyin table (~0.9 s to build) is not needed
    out: list[Mention] = []

    def phrase(k: int, n: int) -> str | None:
        span = words[k : k + n]
        if len(span) < n or any(
            text[a.end() : b.start()].strip() for a, b in zip(span, span[1:], strict=False)
        ):
            return None
        key = " ".join(w.group(0).lower() for w in span)
        return key[:-2] if key.endswith("'s") else key

    k = 0
    while k < len(words):
        n = next(
            (n for n in (g.en and g.en_lengths) if (key := phrase(k, n)) in g.en and key not in EN_LEVELS), 0
        )
        if not n:
            k += 1
            continue
        candidates = g.en[phrase(k, n) or ""]
        if m := next((m for m in (3, 2, 1) if phrase(k + n, m) in EN_LEVELS), 0):  # "Wuchang District"
            suffixes = EN_LEVELS[phrase(k + n, m) or ""]
            candidates, n = [p for p in candidates if p.name.endswith(suffixes)] or candidates, n + m
        start, end = words[k].start(), words[k + n - 1].end()
        end -= 2 if text[start:end].endswith("'s") else 0
        out.append(Mention(start, end, text[start:end], tuple(candidates)))
        k += n
    return out


def find_places(text: str, context: Iterable[Place] = ()) -> list[Mention]:
    """The places named in `text` (Chinese or English), in order, not overlapping, the longest name first
    where names overlap; ordinary-word uses left out (see the module docstring). An ambiguous name is
    narrowed by `context`, failing that by the other places the text names."""
    g = gazetteer()
    raw = sorted(_chinese(text, g) + _english(text, g), key=lambda m: m.start)
    named = tuple(m.candidates[0] for m in raw if len(m.candidates) == 1 and m.candidates[0] != NATIONAL)
    given = tuple(context)
    return [Mention(m.start, m.end, m.surface, _rank(m.candidates, given, named)) for m in raw]


def resolve(name: str, context: Iterable[Place] = ()) -> tuple[Place, ...]:
    """The places one name may stand for (full, short, pinyin or English; 武汉市青山区 and "Wuchang District"
    too), best first, narrowed by `context`; () if it names none."""
    g, given = gazetteer(), tuple(context)
    if found := g.lookup(name.strip()):
        return _rank(found, given)
    mentions = find_places(name.strip(), given)
    rest = "".join(ch for i, ch in enumerate(name.strip()) if not any(m.start <= i < m.end for m in mentions))
    return mentions[-1].candidates if mentions and not re.sub(r"[\W_]", "", rest) else ()
