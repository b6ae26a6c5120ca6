"""Question understanding (`rag.query`), statement features (`rag.evidence`) and follow-ups, without an index:
a profile and a BM25 index built from short real report excerpts."""

import pytest

from ingest.places import gazetteer
from ingest.text import split_statements
from ingest.types import Chunk
from rag.evidence import statement_features, statement_kind
from rag.follow_up import follow_up
from rag.lexical import BM25Index, tokenize
from rag.lists import expands
from rag.matching import coverage
from rag.query import parse_query
from rag.scope import CorpusProfile

TEXTS = {
    ("湖北省 > 武汉市 > 武昌区", 2021, "2021年主要工作", "plan", 2021): "全年经济社会发展的主要预期目标是:地区生产总值增长7%,"
    "地方一般公共财政预算收入增长15%,社会消费品零售总额增长10%,完成固定资产投资300亿元。",
    ("湖北省 > 武汉市 > 武昌区", 2021, "2020年工作回顾", "result", 2020): "全年完成固定资产投资270亿元,"
    "新增市场主体1.2万户。隔离点和康复驿站96个。",
    ("湖北省 > 武汉市 > 江汉区", 2019, "2019年工作安排", "plan", 2019): "固定资产投资总额完成430亿元,"
    "城镇登记失业率控制在3.2%以内。",
    ("内蒙古自治区 > 呼伦贝尔市 > 海拉尔区", 2016, "“十二五”时期和2015年工作回顾", "result", 2015): "地区生产总值由2010年的"
    "162.4亿元增加到2015年的287.9亿元,年均增长12.1%;旅游接待人数达到607万人次。",
}  # fmt: skip


def _chunk(key, text, i) -> Chunk:
    chain, year, section, kind, section_year = key
    place = gazetteer().by_name(chain)
    return Chunk(id=f"c{i}", doc=f"{place.name}_{year}.txt", title=f"{year}年{place.name}政府工作报告",
                 place=place.name, place_chain=place.chain, level=place.level, report_year=year, section=section,
                 section_year=section_year, kind=kind, start_line=i, end_line=i, text=text, clean=text)  # fmt: skip


def corpus_of(chunks):
    return chunks, CorpusProfile.from_chunks(chunks), BM25Index([tokenize(c.clean) for c in chunks])


@pytest.fixture(scope="module")
def corpus():
    chunks = [_chunk(key, text, i) for i, (key, text) in enumerate(TEXTS.items(), start=1)]
    return chunks, CorpusProfile.from_chunks(chunks), BM25Index([tokenize(c.clean) for c in chunks])


def test_scope_from_short_names_years_and_english(corpus):
    _, profile, bm25 = corpus
    q = parse_query("武昌2021年固定资产投资目标", profile, bm25)
    assert [p.name for p in q.places] == ["武昌区"] and q.years == (2021,) and q.intent == "plan"
    assert "固定资产投资" in q.terms and "武昌" not in " ".join(q.terms)
    q = parse_query("What GDP growth target did Wuchang District set for 2021?", profile, bm25)
    assert q.english and [p.name for p in q.places] == ["武昌区"] and q.years == (2021,)
    assert q.intent == "plan" and q.answer_type == "percent"
    q = parse_query("海拉尔区“十二五”期间GDP年均增速", profile, bm25)
    assert q.period == (2011, 2015) and [p.name for p in q.places] == ["海拉尔区"]


def test_places_the_corpus_does_not_hold_are_named(corpus):
    _, profile, bm25 = corpus
    q = parse_query("洪山区2019年固定资产投资目标", profile, bm25)
    assert q.missing_places == ("洪山区",) and not q.places
    q = parse_query("上海2025年GDP增长目标", profile, bm25)
    assert q.missing_places == ("上海市",)
    q = parse_query("呼伦贝尔市海拉尔区2015年旅游接待人数", profile, bm25)  # a parent named before the place
    assert [p.name for p in q.places] == ["海拉尔区"] and not q.missing_places


def test_relative_years_and_abbreviations(corpus):
    _, profile, bm25 = corpus
    q = parse_query("江汉今年固投打算完成多少", profile, bm25)
    assert q.years == (2019,) and "固定资产投资" in q.terms and q.intent == "plan"
    assert parse_query("武昌去年固投完成了多少", profile, bm25).years == (2020,)


def test_things_the_corpus_never_names_stay_in_the_question(corpus):
    """A noun the reports never use (地铁站) is not dropped from the key terms, so no statement covers the
    question; colloquial words and question words the reports don't use either are not counted."""
    chunks, profile, bm25 = corpus
    q = parse_query("海拉尔区2015年新建了几座地铁站？", profile, bm25)
    assert "地铁站" in q.unknown and "地铁站" in q.terms
    stmt = split_statements(chunks[3].clean)[0]
    assert coverage(stmt.text, q.terms) < 0.5
    q = parse_query("武昌2020年那会儿最后完成了多少固定资产投资啊？", profile, bm25)
    assert q.unknown == () and "固定资产投资" in q.terms
    assert parse_query("What was Wuchang's subway ridership in 2020?", profile, bm25).unknown == ()


@pytest.mark.parametrize(
    ("question", "answer_type", "unit"),
    [("武昌2021年地区生产总值增长目标是多少", "percent", "%"), ("江汉区2019年固定资产投资多少亿元", "amount", "亿元"),
     ("隔离点和康复驿站建了多少个", "count", "个"), ("“四水共治”包括哪几个方面", "list", None),
     ("双招双引是什么意思", "definition", None), ("武昌区在百强榜中排第几", "rank", None),
     ("What was Wuchang's GDP in 2020?", "number", None), ("武昌城市低保标准涨到多少了", "number", None), ("What is the Wuchang Model?", "definition", None)],
)  # fmt: skip
def test_answer_types(corpus, question, answer_type, unit):
    _, profile, bm25 = corpus
    q = parse_query(question, profile, bm25)
    assert (q.answer_type, q.unit) == (answer_type, unit)


def test_the_kind_of_figure_is_explicit_only_when_the_question_says_it(corpus):
    _, profile, bm25 = corpus
    assert not parse_query(
        "江汉2019年地区生产总值目标是多少", profile, bm25
    ).type_explicit  # the indicator only
    for question in (
        "江汉2019年地区生产总值目标是多少亿元",
        "江汉区2019年GDP总量是多少",
        "江汉2019年GDP增长多少",
    ):
        assert parse_query(question, profile, bm25).type_explicit, question


@pytest.mark.parametrize(
    ("question", "numbered"),
    [("青山区“一轴两区三城”里的“三城”是哪些", ((3, "城"),)), ("上海要建设的“五个中心”是什么", ((5, "中心"),)),
     ("“四水共治”指哪四水", ((4, "水"),)), ("“十四五”规划有哪些目标", ()), ("武昌有哪些重点项目", ()),
     ("“一轴两区三城”是什么", ((1, "轴"), (2, "区"), (3, "城")))],
)  # fmt: skip
def test_a_numbered_name_says_how_many_things_a_list_has(corpus, question, numbered):
    _, profile, bm25 = corpus
    assert parse_query(question, profile, bm25).numbered == numbered


def test_expansions_of_a_numbered_name():
    assert expands(((3, "城"),), "以打造国际化的草原音乐名城、冰雪运动名城、生态旅游名城为目标")
    centres = "增强国际经济中心功能。提升国际金融中心能级。国际贸易中心、国际航运中心、科技创新中心"
    assert expands(((5, "中心"),), centres)
    assert not expands(((3, "城"),), "建设滨江红城、北湖绿城")
    assert not expands(((4, "水"),), "全面推进“四水共治”")
    parts = ((1, "轴"), (2, "区"), (3, "城"))
    assert expands(
        parts, "建设长江主轴,打造宝武转型创新示范区、北湖生态文明试验区,构筑滨江红城、北湖绿城、白玉蓝城"
    )
    assert not expands(parts, "构筑滨江红城、北湖绿城、白玉蓝城")


def test_a_year_that_names_a_report_scopes_the_whole_report(corpus):
    _, profile, bm25 = corpus
    q = parse_query("武昌2021年政府工作报告里说2020年完成了多少固定资产投资", profile, bm25)
    assert q.report_years == (2021,) and set(q.years) == {2020, 2021}
    assert parse_query("武昌2021年固定资产投资目标", profile, bm25).report_years == ()


def test_another_spelling_of_a_term_covers_it():
    terms = {"棚改": 1.0, "户数": 1.0}
    assert coverage("全年完成棚户区改造8008户数", terms, {"棚改": ("棚户区改造",)}) == 1.0
    assert coverage("全年完成棚户区改造8008户数", terms) < 1.0


def test_a_five_year_plan_named_is_a_period_not_a_target(corpus):
    _, profile, bm25 = corpus
    q = parse_query("武昌“十三五”规划期间地区生产总值年均增长多少", profile, bm25)
    assert q.period == (2016, 2020) and not q.intent_strong
    q = parse_query(
        "What was Wuchang's average annual GDP growth during the 13th Five-Year Plan period?", profile, bm25
    )
    assert q.period == (2016, 2020) and q.intent != "plan"
    assert parse_query("武昌“十四五”规划的地区生产总值目标", profile, bm25).intent == "plan"


def test_plan_or_result_is_decided_per_statement():
    assert statement_kind("2019年主要预期目标:地区生产总值增长7.8%左右") == "plan"
    assert statement_kind("完成情况:上半年地区生产总值同比增长9%,排名中心城区第二") == "result"
    assert statement_kind("全区上下团结一心。") is None


def test_coverage_is_symmetric_in_abbreviations():
    from ingest.text import match_form

    assert coverage(match_form("武昌区GDP增长7%"), {match_form("地区生产总值"): 1.0}) == 1.0
    assert coverage(match_form("全年地区生产总值增长7%"), {match_form("GDP"): 1.0}) == 1.0


def test_statement_features_prefer_the_target_for_a_target_question(corpus):
    chunks, profile, bm25 = corpus
    q = parse_query("武昌2021年固定资产投资目标", profile, bm25)
    plan = statement_features(q, chunks[0], split_statements(chunks[0].text)[0], 0, 1.0, 0.9, True)
    result = statement_features(q, chunks[1], split_statements(chunks[1].text)[0], 1, 0.8, 0.9, True)
    assert plan["intent_match"] == 1.0 and result["intent_clash"] == 1.0
    assert plan["year"] == 1.0 and result["year"] == 0.0


def test_follow_ups(corpus):
    _, profile, _ = corpus
    assert follow_up("那江汉呢?", "武昌2021年固定资产投资目标", profile) == "江汉区2021年固定资产投资目标"
    assert follow_up("2019年的呢?", "武昌2021年固定资产投资目标", profile) == "武昌2019年固定资产投资目标"
    assert follow_up("社零目标呢", "武昌2021年固定资产投资目标", profile).startswith("武昌区2021年")
    assert follow_up("江汉区2019年失业率", "武昌2021年固定资产投资目标", profile) == "江汉区2019年失业率"
    assert follow_up("What about Jianghan?", "What GDP target did Wuchang set for 2021?", profile) == (
        "What GDP target did Jianghan set for 2021?"
    )


def test_jieba_dictionary_from_its_cache_is_jiebas_own(tmp_path):
    """`ingest.text.jieba_dictionary` reads jieba's cache file whole; the dictionary is the one jieba loads."""
    import subprocess
    import sys

    probe = (
        "import sys, jieba; from ingest.text import jieba_dictionary\n"
        "jieba.dt.tmp_dir = sys.argv[1]\n"
        "j = jieba_dictionary() if sys.argv[2] == 'ours' else (jieba.initialize() or jieba)\n"
        "print(j.dt.total, len(j.dt.FREQ), '/'.join(j.lcut('武昌区棚户区改造完成固定资产投资300亿元')))"
    )

    def run(how: str) -> str:
        args = [sys.executable, "-c", probe, str(tmp_path), how]
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout

    first = run("jieba")  # builds the cache in tmp_path
    assert (tmp_path / "jieba.cache").is_file()
    assert run("ours") == first == run("jieba")


def test_numbers_inside_latin_names_are_not_figures():
    from ingest.text import numbers

    assert [str(n.value) for n in numbers("PM10和PM2.5年均值同比分别下降5.7%、5.9%")] == ["5.7", "5.9"]
    assert [n.unit for n in numbers("建成5G基站2.1万个")] == ["个"]


def test_the_unit_asked_for_is_no_key_term(corpus):
    """ "百分之多少", "多少微克每立方米" say the kind of figure wanted; a statement is not judged on them."""
    _, profile, bm25 = corpus
    q = parse_query("武昌2020年固定资产投资增长了百分之多少", profile, bm25)
    assert q.answer_type == "percent" and not any("百分" in t for t in q.terms)
    q = parse_query("武昌区2020年PM2.5年均浓度是多少微克每立方米", profile, bm25)
    assert q.unit == "微克" and not any("米" in t for t in q.terms)


def test_a_question_saying_neither_plan_nor_result_about_a_reviewed_year_wants_the_result(corpus):
    chunks, profile, bm25 = corpus
    from rag.retrieve import Retriever

    statements = [split_statements(c.clean) for c in chunks]
    retriever = Retriever(chunks, bm25, statements, [[-1] * len(s) for s in statements])
    evidence = retriever.retrieve(parse_query("武昌2020年固定资产投资是多少", profile, bm25)).evidence
    assert evidence[0].features["plan_reviewed"] == 0.0 and "270亿元" in evidence[0].statement.text
    # nor one that leans to the result without naming a plan ("What was …'s GDP in 2020")
    english = retriever.retrieve(
        parse_query("What was Wuchang's fixed-asset investment in 2020?", profile, bm25)
    )
    assert english.query.reviewed
    # a question naming a target is not affected, nor a year no report reviews
    for question in ("武昌2020年固定资产投资目标是多少", "武昌2021年固定资产投资是多少"):
        retrieval = retriever.retrieve(parse_query(question, profile, bm25))
        assert not any(c.features["plan_reviewed"] for c in retrieval.evidence)


def test_a_bare_year_in_a_keyword_query_is_a_year(corpus):
    _, profile, bm25 = corpus
    assert parse_query("武昌 2020 固定资产投资", profile, bm25).years == (2020,)
    assert parse_query("武昌2020固投", profile, bm25).years == (2020,)
    assert parse_query("武昌完成2020亿元的项目是什么", profile, bm25).years == ()  # a figure, not a year


def test_a_count_of_people_is_answered_in_any_unit_that_counts_people(corpus):
    from ingest.text import numbers
    from rag.matching import unit_fits

    _, profile, bm25 = corpus
    assert parse_query("海拉尔2015年来了多少游客", profile, bm25).unit == "人"
    visitors, jobs = numbers("旅游接待人数达到607万人次")[0], numbers("新增就业5650人")[0]
    assert unit_fits("人", visitors) and unit_fits("万人", visitors) and unit_fits("人", jobs)
    assert not unit_fits("万人", jobs) and not unit_fits("吨", visitors)


def test_a_one_character_noun_in_everyday_words_is_a_key_term():
    """ "挖了多少煤", "挖煤": the reports write 煤炭产量; 煤 is what is asked about, not a word to drop."""
    chunks = [_chunk(("宁夏回族自治区", 2025, "2024年工作回顾", "result", 2024), "煤炭产量首次突破1亿吨。", 1),
              _chunk(("宁夏回族自治区", 2025, "2024年工作回顾", "result", 2024), "煤电装机增长。粮食增产。", 2)]  # fmt: skip
    bm25 = BM25Index([tokenize(c.clean) for c in chunks] + [["煤"], ["粮"]])
    profile = CorpusProfile.from_chunks(chunks)
    for question in ("宁夏2024年挖了多少煤？", "宁夏2024年挖煤挖了多少？"):
        assert "煤" in parse_query(question, profile, bm25).terms, question
    assert not any(len(t) == 1 for t in parse_query("宁夏2024年花了多少钱？", profile, bm25).terms)


def test_a_question_for_the_target_and_the_result_gets_both():
    from rag.answer import _pick
    from rag.evidence import Candidate

    key_plan = ("湖北省 > 武汉市 > 武昌区", 2020, "2020年主要目标", "plan", 2020)
    key_result = ("湖北省 > 武汉市 > 武昌区", 2021, "2020年工作回顾", "result", 2020)
    plan = _chunk(key_plan, "预期目标是:完成固定资产投资280亿元。固定资产投资增长10%。", 1)
    result = _chunk(key_result, "全年完成固定资产投资270亿元。", 2)
    (amount, rate), (actual,) = split_statements(plan.clean), split_statements(result.clean)
    evidence = [Candidate(0, plan, amount, {"lex": 1.0}, 0.99), Candidate(0, plan, rate, {"lex": 1.0}, 0.95),
                Candidate(1, result, actual, {"lex": 1.0}, 0.5)]  # fmt: skip
    chunks, profile, bm25 = corpus_of([plan, result])
    query = parse_query("武昌2020年固定资产投资目标是多少，实际完成了多少？", profile, bm25)
    assert query.both_intents and query.intent is None and query.parts == 2
    picked = _pick(query, evidence, 0.15)
    assert [c.chunk.kind for c in picked] == ["plan", "result"]  # not the second target statement


def test_a_part_of_the_year_asked_by_name_is_not_answered_with_the_whole_year():
    key = ("内蒙古自治区 > 呼伦贝尔市 > 海拉尔区", 2018, "2017年工作回顾", "result", 2017)
    year = _chunk(key, "全年旅游接待人数达到760万人次。", 1)
    festival = _chunk(key, "春节期间接待游客12万人次。", 2)
    chunks, profile, bm25 = corpus_of([year, festival])
    q = parse_query("海拉尔2017年春节期间接待了多少游客？", profile, bm25)
    assert q.half == "春节"
    vetoed = [
        statement_features(q, c, split_statements(c.text)[0], 0, 1.0, 0.9, True)["period_veto"]
        for c in chunks
    ]
    assert vetoed == [1.0, 0.0]


def test_a_statement_that_spells_out_a_coined_numbered_name_is_quoted_before_one_that_names_it():
    from rag.answer import _prefer_definitions
    from rag.evidence import Candidate

    key = ("内蒙古自治区 > 呼伦贝尔市 > 海拉尔区", 2018, "2017年工作回顾", "result", 2017)
    names = _chunk(key, "有力地促进了国际化的“三城”建设。", 1)
    spells = _chunk(key, "加快打造国际化的草原音乐名城、冰雪运动名城、生态旅游名城步伐。", 2)
    evidence = [Candidate(0, names, split_statements(names.text)[0], {"expands": 0.0}, 0.99),
                Candidate(1, spells, split_statements(spells.text)[0], {"expands": 1.0}, 0.9)]  # fmt: skip
    chunks, profile, bm25 = corpus_of([names, spells])
    q = parse_query("海拉尔2018年报告里的国际化“三城”是哪三城？", profile, bm25)
    assert _prefer_definitions(q, evidence)[0].chunk is spells
    q = parse_query("海拉尔2018年重点聚焦哪三个产业？", profile, bm25)  # a count asked, no name coined
    assert _prefer_definitions(q, evidence)[0].chunk is names


def test_a_short_place_name_right_after_a_year_is_the_place(corpus):
    _, profile, bm25 = corpus
    q = parse_query("2015年海拉尔农村居民参加合作医疗的比例有多高？", profile, bm25)
    assert [p.name for p in q.places] == ["海拉尔区"] and q.years == (2015,)
    assert q.answer_type == "percent" and not any("拉尔" in t or t == "比例" for t in q.terms)
