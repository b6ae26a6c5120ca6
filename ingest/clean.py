"""Cleaning rules: which original lines are boilerplate or spam, and the cleaned text of the rest.

The original lines are never changed; cleaning only decides which lines to keep and produces a
normalised variant (`clean_text`) used for matching, headings and embeddings.
All rules are general (patterns of web pages and scraped reports), not per-file.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# "Martian script" look-alike characters that scrapers and SEO spam substitute for common ones.
# Applied before traditional→simplified conversion (OpenCC would turn 鈈 into 钚).
VARIANT_CHARS = str.maketrans(
    {
        "偠": "要", "罙": "深", "鍸": "湖", "哋": "地", "鈈": "不", "攵": "文", "煋": "星", "粅": "物",
        "葑": "封", "忣": "及", "咹": "安", "凊": "清", "嫼": "黑", "赱": "走", "嶊": "推", "汾": "分",
        "倳": "事", "囲": "共", "竝": "立", "嘟": "都", "莋": "作", "妀": "改", "茬": "在", "囼": "台",
        "鉯": "以", "唍": "完", "夶": "大", "絀": "出", "茭": "交", "喃": "南", "仩": "上", "芣": "不",
        "ㄖ": "日", "曱": "甲", "尛": "小", "蕗": "路", "慥": "造", "荇": "行", "垺": "服",
    }
)  # fmt: skip

# Whole lines that are web-page furniture (navigation, share widgets, comments, footers, page info).
BOILERPLATE_LINE = re.compile(
    r"""^(
        首页\s*[>›»].*                      # breadcrumb
      | .*(当前位置|您的位置|所在位置)[:：].*
      | (来源|发布时间|发表日期|发布日期|作者|编辑|责任编辑|浏览次数|阅读次数|点击数)[:：].{0,60}
      | .*(字体大小|【大】|【中】|【小】|打印本页|关闭窗口|返回顶部|阅读次数[:：]?).*
      | (打印|关闭|返回|收藏|分享到?|转发|推荐|取消|评论|相关评论|发表评论|我要评论|我要回帖|随机推荐|相关阅读|相关文章|热门推荐)
      | \d+\s*(条)?评论
      | .*(QQ空间|新浪微博|腾讯微博|人人网|豆瓣|微信扫一扫|微信朋友圈).*
      | (技术支持|版权所有|Copyright|©|主办单位|承办单位|ICP备|网站地图|联系我们).*
      | (首页|电话|QQ|信息|留言|邮箱|地图|导航|登录|注册)
      | (上一篇|下一篇|较旧一篇|较新一篇|上一条|下一条)[:：].*
      | 更多关于.*的文章
      | [A-Z]?\d{1,2}                        # newspaper page markers: B1, 2
    )$""",
    re.VERBOSE | re.IGNORECASE,
)

# Spam keywords announced by SEO footers: "更多关于 巡司河 水质 2019 的文章".
SPAM_KEYWORD = re.compile(r"更多关于\s*(.+?)\s*的文章")

SPAM_LINE_CHARS = 60
BULLETS = re.compile(r"^[\s•·▪●◆■□*★☆\-–—]+")
STRAY_MARKS = re.compile(r"[*★☆�\u200b\u200c\u200d\ufeff]")
WHITESPACE = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _t2s():
    from opencc import OpenCC

    return OpenCC("t2s")


def normalize(text: str) -> str:
    """NFKC and all white space removed: the comparison form used by evals and matching."""
    return WHITESPACE.sub("", unicodedata.normalize("NFKC", text))


def clean_text(text: str, spam: list[str] | tuple[str, ...] = ()) -> str:
    """See `_clean_text`; cached, since answering cleans the same sentences again and again."""
    return _clean_text(text, tuple(spam))


@lru_cache(maxsize=200_000)
def _clean_text(text: str, spam: tuple[str, ...]) -> str:
    """The cleaned variant of original text: NFKC, spam phrases cut out, look-alike and traditional
    characters mapped to simplified ones, stray marks dropped, white space collapsed (removed between
    CJK characters)."""
    t = unicodedata.normalize("NFKC", text).replace("\u00a0", " ").replace("\u3000", " ")
    for phrase in spam:
        t = re.sub(r"\s*".join(map(re.escape, phrase.split())), "", t)
    t = _t2s().convert(t.translate(VARIANT_CHARS))
    t = STRAY_MARKS.sub("", t)
    t = WHITESPACE.sub(" ", t).strip()
    # white space between two CJK characters or CJK and punctuation carries no meaning
    return re.sub(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])", "", t)


def spam_phrases(lines: list[str]) -> list[str]:
    """Keyword phrases that an SEO footer in the document announces (they also pollute the title)."""
    found = []
    for line in lines:
        m = SPAM_KEYWORD.search(unicodedata.normalize("NFKC", line))
        if m and len(m.group(1)) >= 4:
            found.append(WHITESPACE.sub(" ", m.group(1)))
    return found


def is_boilerplate(line: str, spam: list[str]) -> bool:
    """True for lines that are navigation, widgets, footers, page markers or SEO spam."""
    t = unicodedata.normalize("NFKC", line).replace("\u00a0", " ").strip()
    if not t:
        return True
    t = BULLETS.sub("", t).strip()
    if not t or BOILERPLATE_LINE.match(t):
        return True
    # a short line carrying a spam phrase is an SEO title; in a long line the phrase is cut out by clean_text
    flat = WHITESPACE.sub(" ", t)
    return len(flat) < SPAM_LINE_CHARS and any(phrase in flat for phrase in spam)
