"""Places, years and five-year plans: the gazetteer (cpca's GB/T 2260 table), short and English names,
ambiguity, ordinary words that contain a place name, and the year rules of `ingest.metadata`."""

import pytest

from ingest.metadata import five_year_plan, report_year, section_kind, section_period, years_in
from ingest.places import find_places, gazetteer, national, resolve, short_form


def chain(name: str) -> tuple[str, ...]:
    place = gazetteer().by_name(name)
    assert place is not None, name
    return place.chain


def paths(places) -> list[str]:
    return [p.path for p in places]


def test_gazetteer_chains_and_levels():
    g = gazetteer()
    assert chain("武昌区") == ("湖北省", "武汉市", "武昌区")
    assert chain("海拉尔区") == ("内蒙古自治区", "呼伦贝尔市", "海拉尔区")
    assert chain("浦东新区") == ("上海市", "浦东新区")  # a district of a municipality: no 市辖区 between
    assert chain("内蒙古自治区") == ("内蒙古自治区",)
    assert g.by_name("内蒙古自治区").level == "province" and g.by_name("呼伦贝尔市").level == "city"
    assert g.by_name("海拉尔区").level == "county" and g.by_code("150702").name == "海拉尔区"
    assert national() == g.by_name("全国") and national().level == "national" and national().code == "000000"
    places = g.all_places()
    assert len(places) > 3000
    assert not {"市辖区", "县"} & {p.name for p in places}
    assert all(p.chain[-1] == p.name and g.by_name(p.chain[0]).level == "province" for p in places[1:])
    assert g.by_name("青山区") is None  # two places have this name
    assert g.by_name("武汉市青山区").chain == ("湖北省", "武汉市", "青山区")
    assert g.by_name("内蒙古自治区 > 包头市 > 青山区").code == "150204"


@pytest.mark.parametrize(
    ("name", "full"),
    [("上海", "上海市"), ("内蒙古", "内蒙古自治区"), ("武昌", "武昌区"), ("广西", "广西壮族自治区"),
     ("海拉尔", "海拉尔区"), ("新疆", "新疆维吾尔自治区"), ("恩施", "恩施土家族苗族自治州"), ("神农架", "神农架林区"),
     ("Anhui", "安徽省"), ("Inner Mongolia", "内蒙古自治区"), ("Hailar", "海拉尔区"), ("Wuchang District", "武昌区"),
     ("Shanghai", "上海市"), ("Shaanxi", "陕西省"), ("Shanxi", "山西省"), ("Tibet", "西藏自治区"), ("China", "全国")],
)  # fmt: skip
def test_short_and_english_names_resolve(name, full):
    assert [p.name for p in resolve(name)][:1] == [full]
    assert len(resolve(name)) == 1 or name in ("恩施",)  # 恩施: the prefecture first, then its city


def test_short_form_rule():
    assert short_form("宁夏回族自治区") == "宁夏" and short_form("香港特别行政区") == "香港"
    assert short_form("锡林郭勒盟") == "锡林郭勒" and short_form("阿里地区") == "阿里"
    assert short_form("城区") is None and short_form("和县") is None  # at least two characters stay
    assert short_form("鄂温克族自治旗") is None  # nothing but an ethnic name would stay


def test_ambiguous_name_resolved_by_context():
    g = gazetteer()
    both = resolve("青山")
    assert sorted(paths(both)) == ["内蒙古自治区 > 包头市 > 青山区", "湖北省 > 武汉市 > 青山区"]
    assert paths(resolve("青山", [g.by_name("武汉市")])) == ["湖北省 > 武汉市 > 青山区"]
    assert paths(resolve("青山", [g.by_name("武昌区")])) == [
        "湖北省 > 武汉市 > 青山区"
    ]  # a district beside it
    assert paths(resolve("Qingshan", [g.by_name("包头市")])) == ["内蒙古自治区 > 包头市 > 青山区"]
    assert len(resolve("朝阳")) >= 3  # 朝阳市, 朝阳区 (北京, 长春), 朝阳县
    assert paths(resolve("Wuchang", [g.by_name("湖北省")])) == ["湖北省 > 武汉市 > 武昌区"]
    # a parent named in the same text resolves it
    [wuhan, qingshan] = find_places("武汉青山的固定资产投资")
    assert wuhan.surface == "武汉" and paths(qingshan.candidates) == ["湖北省 > 武汉市 > 青山区"]
    assert paths(find_places("包头市青山区")[-1].candidates) == ["内蒙古自治区 > 包头市 > 青山区"]
    held = [g.by_name("武汉市武昌区"), g.by_name("武汉市青山区"), g.by_name("内蒙古自治区")]
    assert paths(find_places("青山2018年GDP", held)[0].candidates) == ["湖北省 > 武汉市 > 青山区"]


@pytest.mark.parametrize(
    "text",
    ["践行绿水青山就是金山银山理念", "青山绿水红钢城", "巩固绿水青山优势、厚植金山银山潜力", "维护和平区域稳定",
     "加快江汉运河建设", "大力发展中心城区", "各位来宾", "黄金白银"],
)  # fmt: skip
def test_place_words_inside_ordinary_phrases_are_not_places(text):
    assert find_places(text) == []


def test_mentions_in_questions_and_headers():
    found = [(m.surface, m.candidates[0].name) for m in find_places("武昌和江汉2021年的GDP，那青山呢?")]
    assert found[:2] == [("武昌", "武昌区"), ("江汉", "江汉区")] and found[2][0] == "青山"
    header = "——2019年3月4日在呼伦贝尔市海拉尔区第十五届人民代表大会第三次会议上"
    assert [m.surface for m in find_places(header)] == ["呼伦贝尔市", "海拉尔区"]
    english = find_places("What was Wuchang District's GDP target? And Inner Mongolia's?")
    assert [(m.surface, m.candidates[0].name) for m in english] == [
        ("Wuchang District", "武昌区"),
        ("Inner Mongolia", "内蒙古自治区"),
    ]
    assert [m.candidates for m in find_places("全国")] == [(national(),)]
    text = "上海市浦东新区"
    assert [(m.start, m.end) for m in find_places(text)] == [(0, 3), (3, 7)]  # longest names, no overlap


def test_years_in_arabic_and_chinese_numerals():
    assert years_in("二〇二〇年五月二十二日") == [2020]
    assert years_in("二零一九年和2021年") == [2019, 2021]
    assert years_in("2021—2025年") == [2021, 2025]
    assert years_in("2021 GDP target") == [2021]
    assert years_in("完成投资2021亿元，增长2020%，2020 亿元") == []
    assert years_in("到“十四五”末") == [2025]


@pytest.mark.parametrize(
    ("text", "plan"),
    [("“十一五”时期", ("十一五", 2006, 2010)), ("十四五", ("十四五", 2021, 2025)), ("十五五规划", ("十五五", 2026, 2030)),
     ("第十四个五年规划", ("十四五", 2021, 2025)), ("“十五”计划", ("十五", 2001, 2005)),
     ("到2025年，五年规划的目标", ("十四五", 2021, 2025)), ("第十五届人民代表大会", None), ("2021年", None)],
)  # fmt: skip
def test_five_year_plan_rule(text, plan):
    assert five_year_plan(text) == plan


def test_report_year_and_section_metadata():
    # delivered at the end of 2020, the report plans for 2021
    assert (
        report_year("政府工作报告", ["——2020年12月29日在武汉市武昌区第十五届人民代表大会第六次会议上"])
        == 2021
    )
    assert (
        report_year("政府工作报告", ["——二〇二〇年五月二十二日在第十三届全国人民代表大会第三次会议上"])
        == 2020
    )
    assert report_year("政府工作报告", ["各位代表:", "一、2017年工作回顾", "二、2018年主要任务"]) == 2018
    assert section_period(("2020年及十三五工作回顾",), 2021) == (2016, 2020)
    assert section_period(("一、过去五年工作回顾",), 2023) == (2018, 2022)
    assert section_kind(("二、2025年政府工作任务", "(一)着力扩大内需"), "", "", report_year=2025) == "plan"
    assert section_kind(("三、2025年重点工作",), "", "", report_year=2025) == "plan"
    assert section_kind(("一、主要预期目标",), "", "") == "plan"
    assert section_kind(("一、过去一年工作回顾", "(二)规划建设"), "", "") == "result"
    assert section_kind(("“十四五”以来主要成就",), "", "") == "result"
    assert section_kind(("一、加快发展",), "", "", report_year=2025, year=2024) == "result"
    assert section_kind(("三、全面加强政府自身建设",), "", "", after="plan") == "plan"
    opening = "各位代表：\n现在，我代表国务院，向大会报告政府工作，请予审议。"
    assert section_kind((), opening, "政府工作报告") == "opening"


def test_compatibility_tables_come_from_the_gazetteer():
    from ingest.metadata import DISTRICT_RE, DISTRICTS, DISTRICTS_EN, FIVE_YEAR_PLANS

    assert DISTRICTS["武昌"] == "武昌区" and len(DISTRICTS) == 13
    assert DISTRICTS_EN["wuchang"] == "武昌区" and DISTRICTS_EN["jiang'an"] == "江岸区"
    assert DISTRICT_RE.search("硚口区").group(0) == "硚口"
    assert FIVE_YEAR_PLANS["十四五"] == (2021, 2025) and FIVE_YEAR_PLANS["十一五"] == (2006, 2010)
