"""The Word edition, for staff to edit before sending: real Heading styles, real tables, the charts as pictures,
Chinese fonts set on the East Asian slot, and a PAGE field in the footer."""

from __future__ import annotations

import io

from docx import Document
from docx.enum.section import WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from bizenv.bulletin import model
from bizenv.i18n import format_datetime, format_period, t

BODY_FONT = {"zh": ("宋体", "Times New Roman"), "en": ("宋体", "Calibri")}
HEADING_FONT = ("黑体", "Arial")
TONES = {"good": RGBColor(0x1B, 0x7F, 0x3B), "bad": RGBColor(0xB2, 0x22, 0x22),
         "muted": RGBColor(0x6C, 0x75, 0x7D)}
TEXT_WIDTH_CM = 16.0


def _east_asian(style_or_run, east: str, west: str) -> None:  # noqa: ANN001 - a style or a run
    font = style_or_run.font
    font.name = west
    rpr = style_or_run.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.append(fonts)
    fonts.set(qn("w:eastAsia"), east)


def _setup(document: Document, lang: str) -> None:
    east, west = BODY_FONT[lang]
    normal = document.styles["Normal"]
    _east_asian(normal, east, west)
    normal.font.size = Pt(11)
    for name in ("Title", "Heading 1", "Heading 2"):
        _east_asian(document.styles[name], *HEADING_FONT)
        document.styles[name].font.color.rgb = RGBColor(0x1F, 0x4E, 0x79)
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21.0), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2.5)
    section.top_margin = section.bottom_margin = Cm(2.2)


def _page_field(paragraph) -> None:  # noqa: ANN001 - a docx paragraph
    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            element = OxmlElement("w:fldChar")
            element.set(qn("w:fldCharType"), kind)
        else:
            element = OxmlElement("w:instrText")
            element.set(qn("xml:space"), "preserve")
            element.text = text
        run._r.append(element)  # noqa: SLF001 - python-docx has no field API


def _footer(document: Document, bulletin: model.Bulletin) -> None:
    lang = bulletin.lang
    footer = document.sections[-1].footer
    footer.is_linked_to_previous = False  # the cover keeps an empty footer
    paragraph = footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.add_run(f"{bulletin.title}（{format_period(bulletin.period, lang)}）　" if lang == "zh"
                      else f"{bulletin.title} ({format_period(bulletin.period, lang)}) · ")
    _page_field(paragraph)
    paragraph.add_run(("　" if lang == "zh" else " · ") + t("bulletin.cover.generated", lang,
                                                               when=format_datetime(bulletin.generated_at, lang)))
    for run in paragraph.runs:
        run.font.size = Pt(8)


def _cover(document: Document, bulletin: model.Bulletin) -> None:
    lang = bulletin.lang
    for _ in range(6):
        document.add_paragraph()
    title = document.add_paragraph(style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.add_run(bulletin.title)
    for text in (bulletin.edition, "", t("bulletin.cover.period", lang, period=format_period(bulletin.period, lang)),
                 t("bulletin.cover.data_as_of", lang, when=format_datetime(bulletin.data_as_of, lang)),
                 t("bulletin.cover.generated", lang, when=format_datetime(bulletin.generated_at, lang)), "", "",
                 bulletin.issuer, t("bulletin.cover.internal", lang)):
        paragraph = document.add_paragraph(text)
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_section(WD_SECTION.NEW_PAGE)


def _table(document: Document, table: model.Table) -> None:
    numeric = [any(isinstance(r[i].value, int | float) for r in table.rows) for i in range(len(table.columns))]
    out = document.add_table(rows=1, cols=len(table.columns))
    out.style = "Table Grid"
    out.alignment = WD_TABLE_ALIGNMENT.CENTER
    total = sum(table.widths)
    for i, text in enumerate(table.columns):
        cell = out.rows[0].cells[i]
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.font.bold = True
    for row in table.rows:
        cells = out.add_row().cells
        for i, item in enumerate(row):
            cells[i].text = item.text
            paragraph = cells[i].paragraphs[0]
            if numeric[i]:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            if item.tone in TONES and paragraph.runs:
                paragraph.runs[0].font.color.rgb = TONES[item.tone]
    for row in out.rows:
        for i, cell in enumerate(row.cells):
            cell.width = Cm(TEXT_WIDTH_CM * table.widths[i] / total)
            for run in cell.paragraphs[0].runs:
                run.font.size = Pt(9)
    _repeat_header(out)
    if table.note:
        for run in document.add_paragraph(table.note).runs:
            run.font.size = Pt(8.5)


def _repeat_header(table) -> None:  # noqa: ANN001 - a docx table
    props = table.rows[0]._tr.get_or_add_trPr()  # noqa: SLF001 - python-docx has no repeat-header API
    element = OxmlElement("w:tblHeader")
    element.set(qn("w:val"), "true")
    props.append(element)


def render_docx(bulletin: model.Bulletin, images: dict[str, bytes]) -> bytes:
    """The DOCX bytes of an edition, given the PNG of each chart."""
    document = Document()
    _setup(document, bulletin.lang)
    document.core_properties.title = bulletin.title
    document.core_properties.author = bulletin.issuer
    document.core_properties.subject = bulletin.edition
    _cover(document, bulletin)
    _footer(document, bulletin)
    for block in bulletin.blocks:
        if isinstance(block, model.Heading):
            document.add_heading(block.text, level=block.level)
        elif isinstance(block, model.Para):
            paragraph = document.add_paragraph(block.text)
            if block.style == "note" and paragraph.runs:
                paragraph.runs[0].font.size = Pt(9)
            elif block.style == "body":
                paragraph.paragraph_format.first_line_indent = Pt(22)
        elif isinstance(block, model.Table):
            _table(document, block)
        elif isinstance(block, model.Chart) and block.key in images:
            caption = document.add_paragraph(block.title)
            caption.alignment = WD_ALIGN_PARAGRAPH.CENTER
            document.add_picture(io.BytesIO(images[block.key]), width=Cm(TEXT_WIDTH_CM))
            document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        elif isinstance(block, model.PageBreak):
            document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
