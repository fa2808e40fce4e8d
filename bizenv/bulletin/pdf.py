"""The PDF edition: A4, WenQuanYi Micro Hei embedded (subset), tables that repeat their header and keep their
heading, charts as 340-dpi pictures, and "page n of N" with the generation time on every page."""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as RLTable

from bizenv.bulletin import model
from bizenv.bulletin.errors import FontMissing
from bizenv.i18n import format_datetime, format_period, t

FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT = "WenQuanYiMicroHei"
MARGIN = 20 * mm
WIDTH = A4[0] - 2 * MARGIN
HEADER_BLUE = colors.HexColor("#1F4E79")
TONES = {"good": "#1B7F3B", "bad": "#B22222", "muted": "#6C757D", "plain": "#212529"}
KEEP_WHOLE_ROWS = 30  # a table this short moves to the next page whole rather than split


@lru_cache(maxsize=1)
def register_font(path: str = str(FONT_PATH)) -> str:
    """Register the CJK TrueType font once per process; a missing font names the Debian package to install."""
    if not Path(path).is_file():
        raise FontMissing(t("bulletin.error.no_font", "en", path=path) + "\n" + t("bulletin.error.no_font", "zh",
                                                                                   path=path))
    pdfmetrics.registerFont(TTFont(FONT, path, subfontIndex=0))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT, italic=FONT, boldItalic=FONT)
    return FONT


def _styles(lang: str) -> dict[str, ParagraphStyle]:
    """Chinese wraps between any two characters and indents paragraphs by two; English wraps between words."""
    wrap = "CJK" if lang == "zh" else None
    base = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=17, wordWrap=wrap, spaceAfter=4,
                          firstLineIndent=21 if lang == "zh" else 0)
    return {
        "body": base,
        "lead": ParagraphStyle("lead", parent=base, textColor=colors.HexColor("#1F4E79"), firstLineIndent=0),
        "note": ParagraphStyle("note", parent=base, fontSize=8.5, leading=12.5, textColor=colors.HexColor("#555555"),
                               firstLineIndent=0, spaceBefore=3),
        "h1": ParagraphStyle("h1", parent=base, fontSize=15, leading=22, spaceBefore=8, spaceAfter=8,
                             firstLineIndent=0, textColor=colors.HexColor("#1F4E79")),
        "h2": ParagraphStyle("h2", parent=base, fontSize=13, leading=19, spaceBefore=4, spaceAfter=6,
                             firstLineIndent=0),
        "caption": ParagraphStyle("caption", parent=base, fontSize=9.5, leading=14, alignment=TA_CENTER,
                                  firstLineIndent=0, spaceBefore=6, spaceAfter=2),
        "cell": ParagraphStyle("cell", fontName=FONT, fontSize=8.5, leading=11, wordWrap=wrap),
        "cell_right": ParagraphStyle("cell_right", fontName=FONT, fontSize=8.5, leading=11, wordWrap=wrap,
                                     alignment=TA_RIGHT),
        "head": ParagraphStyle("head", fontName=FONT, fontSize=8.5, leading=11, wordWrap=wrap,
                               textColor=colors.white, alignment=TA_CENTER),
        "cover_title": ParagraphStyle("ct", fontName=FONT, fontSize=24, leading=34, alignment=TA_CENTER,
                                      textColor=colors.HexColor("#B22222")),
        "cover": ParagraphStyle("cv", fontName=FONT, fontSize=13, leading=22, alignment=TA_CENTER),
    }


def _numeric(table: model.Table, col: int) -> bool:
    return any(isinstance(r[col].value, int | float) for r in table.rows)


def _cell(cell: model.Cell, styles: dict[str, ParagraphStyle], right: bool) -> Paragraph:
    text = escape(cell.text) if cell.tone == "plain" else f'<font color="{TONES[cell.tone]}">{escape(cell.text)}</font>'
    return Paragraph(text, styles["cell_right" if right else "cell"])


def _table(table: model.Table, styles: dict[str, ParagraphStyle]) -> RLTable:
    total = sum(table.widths)
    widths = [WIDTH * w / total for w in table.widths]
    right = [_numeric(table, i) for i in range(len(table.columns))]
    data = [[Paragraph(escape(c), styles["head"]) for c in table.columns]]
    data += [[_cell(c, styles, right[i]) for i, c in enumerate(row)] for row in table.rows]
    out = RLTable(data, colWidths=widths, repeatRows=1)
    out.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BLUE),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F3F6FA")]),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#B8C4D6")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]))
    return out


def _chart(chart: model.Chart, png: bytes | None, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    if png is None:
        return []
    height = WIDTH * chart.height_px / chart.width_px
    return [KeepTogether([Paragraph(escape(chart.title), styles["caption"]),
                          Image(io.BytesIO(png), width=WIDTH, height=height)])]


def _flowables(bulletin: model.Bulletin, images: dict[str, bytes], styles: dict[str, ParagraphStyle]) -> list:
    out: list = []
    pending: list = []  # a heading waits for what follows it, so it never ends a page alone
    for block in bulletin.blocks:
        if isinstance(block, model.Heading):
            pending.append(Paragraph(escape(block.text), styles["h1" if block.level == 1 else "h2"]))
            continue
        if isinstance(block, model.PageBreak):
            out += [*pending, PageBreak()]
            pending = []
            continue
        if isinstance(block, model.Para):
            body = [Paragraph(escape(block.text), styles[block.style])]
        elif isinstance(block, model.Table):
            body = [_table(block, styles)] + ([Paragraph(escape(block.note), styles["note"])] if block.note else [])
            if len(block.rows) <= KEEP_WHOLE_ROWS:
                body = [KeepTogether(body)]
        else:
            body = _chart(block, images.get(block.key), styles)
        out += [KeepTogether([*pending, body[0]]), *body[1:]] if pending and body else [*pending, *body]
        pending = []
    return out + pending


def _cover(bulletin: model.Bulletin, styles: dict[str, ParagraphStyle]) -> list:
    lang = bulletin.lang
    lines = [t("bulletin.cover.period", lang, period=format_period(bulletin.period, lang)),
             t("bulletin.cover.data_as_of", lang, when=format_datetime(bulletin.data_as_of, lang)),
             t("bulletin.cover.generated", lang, when=format_datetime(bulletin.generated_at, lang))]
    return [Spacer(1, 55 * mm), Paragraph(escape(bulletin.title), styles["cover_title"]), Spacer(1, 6 * mm),
            Paragraph(escape(bulletin.edition), styles["cover"]), Spacer(1, 30 * mm),
            *(Paragraph(escape(x), styles["cover"]) for x in lines), Spacer(1, 40 * mm),
            Paragraph(escape(bulletin.issuer), styles["cover"]),
            Paragraph(escape(t("bulletin.cover.internal", lang)), styles["cover"]), PageBreak()]


def _numbered_canvas(footer: Callable[[int, int], str]) -> type[canvas.Canvas]:
    """A canvas that knows the page count when it draws each footer ("page n of N")."""
    class NumberedCanvas(canvas.Canvas):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - reportlab's signature
            kwargs["initialFontName"] = FONT  # no unembedded Helvetica in the file
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                if number > 1:  # the cover has no footer
                    self.setFont(FONT, 8)
                    self.setFillColor(colors.HexColor("#6C757D"))
                    self.drawCentredString(A4[0] / 2, 11 * mm, footer(number, len(self._pages)))
                super().showPage()
            super().save()
    return NumberedCanvas


def render_pdf(bulletin: model.Bulletin, images: dict[str, bytes]) -> bytes:
    """The PDF bytes of an edition, given the PNG of each chart."""
    register_font()
    rl_config.useA85 = 0  # binary streams: pure-Python ASCII85 of the chart images costs seconds and 25% size
    styles = _styles(bulletin.lang)
    lang = bulletin.lang
    when = format_datetime(bulletin.generated_at, lang)
    short_title = f"{bulletin.title}（{format_period(bulletin.period, lang)}）" if lang == "zh" else (
        f"{bulletin.title} ({format_period(bulletin.period, lang)})")
    def footer(page: int, pages: int) -> str:
        return t("bulletin.footer", lang, title=short_title, page=page, pages=pages, when=when)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=18 * mm,
                            bottomMargin=20 * mm, title=short_title, author=bulletin.issuer, subject=bulletin.edition,
                            creator="bizenv", invariant=1)
    story = _cover(bulletin, styles) + _flowables(bulletin, images, styles)
    doc.build(story, canvasmaker=_numbered_canvas(footer))
    return buffer.getvalue()


__all__ = ["FONT_PATH", "register_font", "render_pdf"]
