"""The map a case of each kind opens with, shared by the canvas and the What-if view.

Words and table features get a signed map: a plain gradient of an averaged embedding is the same
at every position, so Saliency would colour every word alike. Pixels get the gradient's magnitude.
"""

DEFAULT_METHOD = {"text": "gradient_x_input", "tabular": "gradient_x_input", "images": "saliency"}


def default_method(kind: str) -> str:
    """The method a case of `kind` ("images", "tabular", "text", ...) is first explained with."""
    return DEFAULT_METHOD.get(kind, "saliency")


def has_pixels(kind: str) -> bool:
    """Tables and sentences have no pixels: no overlay, region, pixel hover or spatial parameters."""
    return kind not in ("tabular", "text")
