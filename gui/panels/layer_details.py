"""The model browser's details panel: one layer's summary, inbound layers, config and weights.

The config is a searchable key/value tree (superqt's QSearchableTreeWidget): Keras configs nest
initializers, regularizers and whole sub-models, and "what is the epsilon of this
BatchNormalization" is a search, not a scroll. Inbound layers are links that select that layer.
"""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QLabel,
    QPushButton,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt import QSearchableTreeWidget

from engine.description import LayerInfo

PLACEHOLDER = "Select a layer to see its configuration, inbound layers and weights."


def format_shape(shape: Any) -> str:
    """(None, 28, 28, 1) for one tensor; several shapes joined; strings as given."""
    if isinstance(shape, str):
        return shape
    if shape and all(isinstance(s, (tuple, list)) for s in shape):
        return ", ".join(format_shape(s) for s in shape)
    dims = ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def format_count(n: int) -> str:
    return f"{n:,}"


def _inline_scalars(value: Any) -> Any:
    """Lists of plain numbers/strings (shapes, strides) become one line instead of a subtree."""
    if isinstance(value, dict):
        return {str(k): _inline_scalars(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if all(v is None or isinstance(v, (bool, int, float, str)) for v in value):
            return json.dumps(list(value))
        return [_inline_scalars(v) for v in value]
    return value


class LayerDetails(QWidget):
    """Shows one `LayerInfo`; emits `layer_activated(path)` when an inbound link is clicked."""

    layer_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layer: LayerInfo | None = None
        self.summary = QLabel(PLACEHOLDER)
        self.summary.setObjectName("layerSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.summary.linkActivated.connect(self.layer_activated)

        self.config = QSearchableTreeWidget(self)
        self.config.setObjectName("layerConfig")
        self.config.filter.setPlaceholderText("Search the config (keys and values)")
        self.config.tree.setHeaderLabels(("Key", "Value"))
        self.copy_json = QPushButton("Copy config as JSON")
        self.copy_json.setEnabled(False)
        self.copy_json.clicked.connect(self._copy_config)
        config_page = QWidget()
        config_layout = QVBoxLayout(config_page)
        config_layout.setContentsMargins(0, 0, 0, 0)
        config_layout.addWidget(self.config)
        config_layout.addWidget(self.copy_json, 0, Qt.AlignmentFlag.AlignRight)

        self.weights = QTreeWidget()
        self.weights.setObjectName("layerWeights")
        self.weights.setRootIsDecorated(False)
        self.weights.setHeaderLabels(("Weight", "Shape", "Dtype", "Values", "Trainable"))

        self.tabs = QTabWidget()
        self.tabs.addTab(config_page, "Config")
        self.tabs.addTab(self.weights, "Weights")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)

    def show_layer(self, layer: LayerInfo | None) -> None:
        self.layer = layer
        self.copy_json.setEnabled(layer is not None)
        self.weights.clear()
        if layer is None:
            self.summary.setText(PLACEHOLDER)
            self.config.setData({})
            self.tabs.setTabText(1, "Weights")
            return
        self.summary.setText(_summary_html(layer))
        search = self.config.filter.text()
        self.config.setData(_inline_scalars(layer.config))
        self.config.tree.resizeColumnToContents(0)
        self.config.filter.setText(search)  # keep the user's search across layers
        for weight in layer.weights:
            item = QTreeWidgetItem(
                [weight.name, format_shape(weight.shape), weight.dtype,
                 format_count(math.prod(weight.shape)),
                 "yes" if weight.trainable else "no"]
            )
            item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.weights.addTopLevelItem(item)
        for column in range(self.weights.columnCount()):
            self.weights.resizeColumnToContents(column)
        self.tabs.setTabText(1, f"Weights ({len(layer.weights)})")

    def _copy_config(self) -> None:
        if self.layer is not None:
            text = json.dumps(self.layer.config, indent=2, sort_keys=True, default=str)
            QGuiApplication.clipboard().setText(text)


def _summary_html(layer: LayerInfo) -> str:
    """Three short lines: the tree row already shows output shape, params and trainable."""
    inbound = ", ".join(f'<a href="{escape(p)}">{escape(p)}</a>' for p in layer.inbound) or "none"
    frozen = "" if layer.trainable else " · <b>frozen</b>"
    contains = f" · contains {len(layer.children)} layers" if layer.children else ""
    return (
        f"<b>{escape(layer.path)}</b> &nbsp;{escape(layer.class_name)} · {escape(layer.dtype)}"
        f" · activation {escape(layer.activation or 'none')}{frozen}<br>"
        f"params {format_count(layer.params)}: {format_count(layer.trainable_params)} trainable, "
        f"{format_count(layer.non_trainable_params)} non-trainable{contains}<br>"
        f"inbound: {inbound}"
    )
