"""A text case as words coloured by their token's attribution, with a legend, top tokens and prediction.

Colours come from one diverging map, symmetric around 0: the scale runs from -m to +m with m the
largest |attribution| of the case, so a token with -v and one with +v get mirrored colours (the
LUT has an odd number of entries and 0 is its middle one). Words are the sentence as written
(engine.text_tokens links each to its token); a word the vocabulary does not know is marked OOV,
words past the model's sequence length are greyed "not read", and padding positions are counted
at the end, since the model reads them too.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

LUT_SIZE = 257  # odd: value 0 is exactly the middle colour
DIVERGING = "CET-D1"  # the canvas's signed map: blue (against) - white - red (for)
TOP_K = 8


def diverging_lut(name: str = DIVERGING) -> np.ndarray:
    """uint8 (LUT_SIZE, 3) colours, index 0 = -m, LUT_SIZE // 2 = 0, last = +m."""
    return pg.colormap.get(name).getLookupTable(nPts=LUT_SIZE, alpha=False, mode="byte")


def colour_index(value: float, scale: float) -> int:
    """The LUT entry of `value` on the symmetric scale [-scale, +scale]: mirrored around the middle."""
    if scale <= 0 or not np.isfinite(value):
        return LUT_SIZE // 2
    half = LUT_SIZE // 2
    step = int(round(min(1.0, abs(float(value)) / scale) * half))
    return half + step if value >= 0 else half - step


def token_colours(values: Sequence[float], lut: np.ndarray | None = None) -> list[tuple[int, int, int]]:
    """RGB per token, on the scale of the case's largest |value|."""
    lut = diverging_lut() if lut is None else lut
    values = np.asarray(values, np.float64)
    scale = float(np.max(np.abs(values))) if values.size else 0.0
    return [tuple(int(c) for c in lut[colour_index(v, scale)]) for v in values]


def _text_colour(rgb: tuple[int, int, int]) -> str:
    return "#000000" if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140 else "#ffffff"


class ColourBar(QWidget):
    """The legend: the diverging map from -m to +m, labelled."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scale = 0.0
        self.lut = diverging_lut()
        self.setMinimumHeight(34)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_scale(self, scale: float) -> None:
        self.scale = float(scale)
        self.update()

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        bar = self.rect().adjusted(8, 2, -8, -18)
        gradient = QLinearGradient(bar.left(), 0, bar.right(), 0)
        for i in range(0, LUT_SIZE, 16):
            gradient.setColorAt(i / (LUT_SIZE - 1), QColor(*self.lut[i]))
        gradient.setColorAt(1.0, QColor(*self.lut[-1]))
        painter.fillRect(bar, gradient)
        painter.setPen(QColor("#dddddd"))
        m = self.scale
        y = self.rect().bottom() - 2
        painter.drawText(bar.left(), y, f"{-m:+.3g} against")
        middle = "0"
        painter.drawText(bar.center().x() - painter.fontMetrics().horizontalAdvance(middle) // 2, y, middle)
        right = f"for {m:+.3g}"
        painter.drawText(bar.right() - painter.fontMetrics().horizontalAdvance(right), y, right)
        painter.end()


class TextTokens(QWidget):
    """See the module docstring. `set_case(alignment, values, prediction)` draws one case."""

    def __init__(self, parent: QWidget | None = None, compact: bool = False) -> None:
        """`compact`: the words and the legend only (the what-if view lists the prediction itself)."""
        super().__init__(parent)
        self.setObjectName("textTokens")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("#textTokens { background: #202020; } QLabel { color: #dddddd; }")
        self.title = QLabel("")
        self.title.setObjectName("panelTitle")
        self.title.setWordWrap(True)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.sentence = QLabel("")
        self.sentence.setObjectName("tokenSentence")
        self.sentence.setWordWrap(True)
        self.sentence.setTextFormat(Qt.TextFormat.RichText)
        self.sentence.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.sentence.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        self.sentence.setFont(font)
        self.legend = ColourBar()
        self.top = QLabel("")
        self.top.setObjectName("topTokens")
        self.top.setTextFormat(Qt.TextFormat.RichText)
        self.top.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.prediction = QLabel("")
        self.prediction.setObjectName("tokenPrediction")
        self.prediction.setTextFormat(Qt.TextFormat.RichText)
        self.prediction.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        lists = QHBoxLayout()
        lists.addWidget(self.top, 1)
        lists.addWidget(self.prediction, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.title)
        if not compact:  # in a strip the words come first, where they are always in sight
            layout.addStretch(1)
        layout.addWidget(self.sentence)
        layout.addWidget(self.legend)
        layout.addStretch(1)
        layout.addLayout(lists)
        if compact:  # a strip: the coloured words and their legend (the top tokens are in the view's map cell)
            for widget in (self.prediction, self.title, self.top):
                widget.hide()
            font.setPointSizeF(font.pointSizeF() / 1.25)
            self.sentence.setFont(font)
        self.values: np.ndarray = np.zeros(0)
        self.colours: list[tuple[int, int, int]] = []

    def set_case(self, alignment: dict[str, Any], values: Sequence[float], prediction: Sequence[tuple[str, float]] = (),
                 title: str = "") -> None:
        """`alignment`: engine.text_tokens.TokenAlignment.to_dict(); `values`: one per token position;
        `prediction`: (class name, probability), most probable first."""
        self.title.setText(title)
        self.values = np.asarray(values, np.float64).reshape(-1)
        self.colours = token_colours(self.values)
        scale = float(np.max(np.abs(self.values))) if self.values.size else 0.0
        self.legend.set_scale(scale)
        self.sentence.setText(self._sentence_html(alignment))
        self.top.setText(self._top_html(alignment))
        self.prediction.setText(_prediction_html(prediction))

    def _sentence_html(self, a: dict[str, Any]) -> str:
        tokens, token_kinds = a.get("tokens", []), a.get("token_kinds", [])
        pieces = []
        if a.get("words"):
            for word, position, kind in zip(a["words"], a["word_token"], a["word_kinds"]):
                pieces.append(self._piece(word, position, kind, tokens))
        else:  # token by token (the layer's splitting is not by words)
            pieces = [self._piece(t, i, k, tokens) for i, (t, k) in enumerate(zip(tokens, token_kinds)) if k != "padding"]
        padding = sum(1 for k in token_kinds if k == "padding")
        if padding:
            pieces.append(f'<span style="color:#888888"> · {padding} padding</span>')
        note = f'<br><small style="color:#aaaaaa">{html.escape(a["note"])}</small>' if a.get("note") else ""
        return " ".join(pieces) + note

    def _piece(self, word: str, position: int, kind: str, tokens: Sequence[str]) -> str:
        text = html.escape(word)
        if position < 0 or position >= len(self.colours):
            why = "not read: past the model's sequence length" if kind == "cut" else "no token (punctuation only)"
            return f'<span style="color:#777777; text-decoration:line-through" title="{why}">{text}</span>'
        rgb = self.colours[position]
        style = f"background-color:rgb{rgb}; color:{_text_colour(rgb)}; padding:2px"
        mark = '<sup style="color:#ffcc00">OOV</sup>' if kind == "oov" else ""
        return f'<span style="{style}">&nbsp;{text}&nbsp;</span>{mark}'

    def _top_html(self, a: dict[str, Any]) -> str:
        tokens, token_word = a.get("tokens", []), a.get("token_word", [])
        words = a.get("words", [])
        order = [int(i) for i in np.argsort(-np.abs(self.values), kind="stable")
                 if i < len(tokens) and a["token_kinds"][i] != "padding"][:TOP_K]
        rows = []
        for i in order:
            shown = words[token_word[i]] if i < len(token_word) and token_word[i] >= 0 and words else tokens[i]
            label = html.escape(shown) + (" (OOV)" if a["token_kinds"][i] == "oov" else "")
            rows.append(f"<tr><td>{i}</td><td>{label}</td><td align='right'>{self.values[i]:+.4g}</td></tr>")
        return "<b>Top tokens</b><table cellspacing='4'>" + "".join(rows) + "</table>"


def _prediction_html(prediction: Sequence[tuple[str, float]]) -> str:
    rows = "".join(f"<tr><td>{html.escape(str(name))}</td><td align='right'>{100 * p:.1f}%</td></tr>"
                   for name, p in prediction)
    return "<b>Prediction</b><table cellspacing='4'>" + rows + "</table>" if rows else ""
