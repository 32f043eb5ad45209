"""The words of a question's frame rather than its topic, shared by retrieval and the synonym map."""

from __future__ import annotations

from assistant.normalize import fold

# Words in nearly every unit (the parties, 役割, question words): they neither show that a question is on topic
# nor tell rows apart, so BM25 ignores them, and the synonym map does not expand them (関係 → 結びつき would
# pull the rows of 別表(3)② into any question that says 「IT関係の会社」).
GENERIC_TERMS = frozenset(
    fold(w)
    for w in (
        "協約",
        "協約書",
        "市",
        "久留米",
        "小郡",
        "久留米市",
        "小郡市",
        "役割",
        "教える",
        "何",
        "どっち",
        "どちら",
        "聞く",
        "いい",
        "誰",
        "どこ",
        "いつ",
        "言う",
        "思う",
        "ある",
        "やる",
        "分担",
        "役割分担",
        "取組",
        "取り組む",
        "関係",
        "書く",
        "定める",
        "今",
        "方",
        "甲",
        "乙",
        "中",
        "人",
        "日",
        "月",
        "年",
        "次",
        "前",
        "後",
        "全体",
        "圏域",
        "住民",
        "city",
        "内容",  # 取組の内容 heads every row
        "条",  # 第N条 heads every article
        "第",
    )
)
