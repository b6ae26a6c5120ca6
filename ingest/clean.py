"""Cleaning rules: which original lines are web-page furniture or SEO spam.

The original lines are never changed; cleaning only decides which lines to keep (the normalised variant of
the rest is `ingest.text.clean_text`). All rules are general (patterns of web pages and scraped reports),
not per-file.
"""

from __future__ import annotations

import re
import unicodedata

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
WHITESPACE = re.compile(r"\s+")


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
