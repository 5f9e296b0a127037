"""The lazy by-name registry behind engine.explainers and engine.metrics (engine.registry)."""

from __future__ import annotations

import sys

import pytest

from engine import explainers, metrics
from engine.errors import BadInputError
from engine.registry import LazyRegistry


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    """Two members in modules of their own, not imported yet."""
    for name in ("reg_alpha", "reg_beta"):
        (tmp_path / f"{name}.py").write_text(
            f"class Member:\n    label = {name!r}\n    def __init__(self, x):\n        self.x = x\n"
        )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield LazyRegistry({"alpha": "reg_alpha:Member", "beta": "reg_beta:Member"}, lambda cls: cls.label, "widget")
    for name in ("reg_alpha", "reg_beta"):
        sys.modules.pop(name, None)


def test_a_member_is_imported_only_when_its_name_is_used(plugins) -> None:
    assert "reg_alpha" not in sys.modules and "reg_beta" not in sys.modules
    assert plugins.info("alpha") == "reg_alpha"
    assert "reg_alpha" in sys.modules and "reg_beta" not in sys.modules
    assert plugins.load("beta")(7).x == 7
    assert plugins.available() == ["reg_alpha", "reg_beta"]  # the registry's order


def test_an_unknown_name_is_a_clear_error_listing_the_known_ones(plugins) -> None:
    with pytest.raises(BadInputError, match=r"^Unknown widget 'gamma'; available: alpha, beta\.$"):
        plugins.load("gamma")
    with pytest.raises(BadInputError, match="Unknown widget 'gamma'"):
        plugins.info("gamma")


def test_a_member_whose_module_is_missing_is_an_import_error_not_skipped() -> None:
    """Every registered module exists: a broken entry must fail loudly, not vanish from forms."""
    registry = LazyRegistry({"ghost": "reg_no_such_module:Member"}, lambda cls: cls, "widget")
    with pytest.raises(ModuleNotFoundError):
        registry.available()


@pytest.mark.parametrize(
    ("create", "noun", "known"),
    [(explainers.create, "attribution method", explainers.METHODS), (metrics.create, "metric", metrics.METRICS)],
)
def test_the_explainer_and_metric_registries_name_what_they_know(create, noun, known) -> None:
    with pytest.raises(BadInputError) as error:
        create("no_such_name", None)
    message = str(error.value)
    assert message.startswith(f"Unknown {noun} 'no_such_name'; available: ")
    assert all(name in message for name in known)


def test_info_looks_one_member_up_with_its_flags() -> None:
    saliency = explainers.info("saliency")
    assert saliency.name == "saliency" and saliency.fast
    assert not explainers.info("kernel_shap").fast
    assert [i.name for i in explainers.available()] == list(explainers.METHODS)
    assert metrics.info("insertion").better == "higher"
    assert [i.name for i in metrics.available()] == list(metrics.METRICS)
    with pytest.raises(BadInputError, match="Unknown metric 'nope'; available: deletion, insertion"):
        metrics.info("nope")
