"""Static UI text, CSS and small scripts for the app (Japanese UI; no external fonts or assets)."""

from __future__ import annotations

HEADER = """
<div id="app-header">
  <h1>連携協約アシスタント</h1>
  <p>久留米広域連携中枢都市圏形成に係る連携協約（久留米市・小郡市）の内容に、出典つきでお答えします。
  回答は協約書の文言だけに基づきます。English questions are answered in English.</p>
</div>
"""

EXAMPLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "住民の方",
        (
            "バスのことはどっちの市に聞けばいい？",
            "子どもを一時預かりしてほしいときは？",
            "夜間に子どもが熱を出したら、救急医療はどうなっている？",
            "小郡市への移住について、両市は何をしている？",
        ),
    ),
    (
        "新任職員",
        (
            "この協約の目的は？",
            "第4条には何が書いてある？",
            "小郡市の役割を全部教えて",
            "協約はいつ締結された？",
        ),
    ),
    (
        "窓口担当",
        (
            "甲と乙って誰のこと？",
            "両市の役割が同じ取組は？",
            "協約に定めのないことはどう決める？",
            "What is Ogori City's role in tourism?",
        ),
    ),
)

# Row buttons in the role table ask the server to explain that row (event delegation survives re-renders).
TABLE_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button.explain');
  if (button) { trigger('click', {row: button.dataset.row}); }
});
"""

# A citation card's link opens the full-agreement tab and scrolls to the unit's anchor.
HEAD = """
<script>
document.addEventListener('click', (event) => {
  const link = event.target.closest && event.target.closest('a.open-unit');
  if (!link) { return; }
  event.preventDefault();
  event.stopPropagation();
  const id = link.dataset.anchor || link.getAttribute('href').slice(1);
  const tab = [...document.querySelectorAll('button[role="tab"]')].find((b) => b.textContent.includes('協約書全文'));
  if (tab) { tab.click(); }
  const show = (tries) => {
    const unit = document.getElementById(id);
    if (unit && unit.offsetParent !== null) {
      unit.scrollIntoView({behavior: 'smooth', block: 'center'});
      unit.classList.add('flash');
      setTimeout(() => unit.classList.remove('flash'), 2500);
    } else if (tries > 0) {
      setTimeout(() => show(tries - 1), 100);
    }
  };
  show(100);
}, true);
</script>
"""

CSS = """
.gradio-container { max-width: 1200px !important; margin: 0 auto !important; }
#app-header h1 { font-size: 1.6rem; margin: 0.2em 0 0.1em; }
#app-header p { margin: 0; color: var(--body-text-color-subdued); line-height: 1.6; }
#chat .message { line-height: 1.75; }
/* The cards message has no copy or 👍/👎 of its own: those belong to the answer above it. */
#chat .message-row:has(.sources) + .message-buttons { display: none; }
.sources-title { font-weight: 600; font-size: 0.9em; color: var(--body-text-color-subdued); margin-bottom: 4px; }
.sources-title.related { color: #8a5a00; }
.cite-card {
  border: 1px solid var(--border-color-primary);
  border-left: 4px solid var(--color-accent);
  border-radius: 8px;
  padding: 8px 12px;
  margin: 6px 0;
  background: var(--background-fill-secondary);
}
.cite-label { font-weight: 600; }
.cite-num {
  display: inline-block; min-width: 1.4em; margin-right: 6px; border-radius: 999px;
  background: var(--color-accent); color: #fff; text-align: center; font-size: 0.8em;
}
.cite-text { margin: 4px 0; line-height: 1.75; }
.cite-full { margin: 6px 0; padding-left: 8px; border-left: 2px solid var(--border-color-primary); line-height: 1.75; }
.cite-card details summary { cursor: pointer; color: var(--link-text-color); font-size: 0.9em; }
.no-sources { color: var(--body-text-color-subdued); font-size: 0.9em; margin: 0; }
mark { background: #fde68a; color: #1f2937; padding: 0 1px; border-radius: 2px; }
.role-table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
.role-table th, .role-table td {
  border: 1px solid var(--border-color-primary); padding: 6px 8px; vertical-align: top; text-align: left; line-height: 1.65;
}
.role-table thead th { background: var(--color-accent-soft); }
.role-table tr.section th { background: var(--background-fill-secondary); font-weight: 600; }
.role-table tr.depth-2 th { padding-left: 1.6em; font-weight: 500; }
.role-table button.explain {
  white-space: nowrap; padding: 4px 8px; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--color-accent); color: var(--color-accent); background: transparent;
}
.role-table button.explain:hover { background: var(--color-accent); color: #fff; }
.table-count { color: var(--body-text-color-subdued); font-size: 0.9em; margin: 0 0 6px; }
.agreement { max-width: 900px; line-height: 1.9; }
.agreement h2 { font-size: 1.3rem; }
.agreement h3 { font-size: 1.05rem; margin: 1.1em 0 0.2em; }
.agreement .note { color: var(--body-text-color-subdued); font-size: 0.9em; }
.agreement ol.items { list-style: none; padding-left: 1.2em; margin: 0.2em 0; }
.unit { scroll-margin-top: 80px; border-radius: 6px; }
.unit.flash { animation: unit-flash 2.5s ease-out; }
@keyframes unit-flash { from { background: #fde68a; } to { background: transparent; } }
"""
