"""Model kinds have one home and imports point one way: artifact.py -> models/ -> artifact_file.py.

The import graph is read from the source (every import, also those inside functions), so a lazy
import that closes a circle is caught as surely as a module-level one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import oddsline
from oddsline import FormatVersionError
from oddsline.artifact_file import read_artifact, write_artifact
from oddsline.models import LOADERS, Model, MulticlassModel, ScoringModel

SRC = Path(oddsline.__file__).parent


def _imports(path: Path) -> set[str]:
    """The oddsline modules ``path`` imports, as dotted names relative to the package."""
    package = path.relative_to(SRC).with_suffix("").parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                names = [target] + [f"{target}.{alias.name}" if target else alias.name for alias in node.names]
            elif node.module and node.module.startswith("oddsline"):
                names = [node.module.removeprefix("oddsline").lstrip(".")]
            else:
                continue
            found.update(n for n in names if n)
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("oddsline.") for a in node.names if a.name.startswith("oddsline."))
    return found


def test_the_container_knows_no_model_and_no_kind_imports_the_reader():
    container = _imports(SRC / "artifact_file.py")
    assert not {n for n in container if n.startswith(("model", "artifact", "multiclass", "training"))}, container
    for path in sorted((SRC / "models").glob("*.py")):
        imported = _imports(path)
        assert "artifact" not in imported, path.name
        assert not {n for n in imported if n.startswith(("cli", "serve", "registry", "batch"))}, path.name
    assert "models" in _imports(SRC / "artifact.py")


def test_every_kind_is_a_scoring_model_with_its_own_loader(tmp_path):
    assert set(LOADERS) == {Model.kind, MulticlassModel.kind}
    rng = np.random.default_rng(0)
    table = pa.table({"x": rng.normal(size=300), "y": rng.choice(["a", "b", "c"], size=300)})
    binary = oddsline.train(table, "y", positive="a", test_size=0.0)
    multinomial = oddsline.train_multiclass(table, "y", test_size=0.0)
    for model, n_classes in ((binary, 2), (multinomial, 3)):
        assert isinstance(model, ScoringModel)
        assert model.predict_proba(table).shape == (300, n_classes) == (300, len(model.classes))
        loaded = oddsline.load(model.save(tmp_path / f"{model.kind}.odl"))
        assert type(loaded) is type(model) and loaded.kind == model.kind
        np.testing.assert_array_equal(loaded.predict_proba(table), model.predict_proba(table))


def test_old_import_paths_still_name_the_same_classes():
    from oddsline.model import Model as OldModel
    from oddsline.multiclass_model import MulticlassModel as OldMulticlass

    assert OldModel is oddsline.Model is Model
    assert OldMulticlass is oddsline.MulticlassModel is MulticlassModel


def test_the_reader_dispatches_on_the_kind_and_refuses_an_unknown_one(tmp_path):
    rng = np.random.default_rng(0)
    table = pa.table({"x": rng.normal(size=300), "y": rng.choice(["a", "b", "c"], size=300)})
    model = oddsline.train_multiclass(table, "y", test_size=0.0)
    path = model.save(tmp_path / "m.odl")
    assert type(oddsline.load(path)) is MulticlassModel
    stored = read_artifact(path)
    assert stored.kind == MulticlassModel.kind
    write_artifact({**stored.body, "kind": "online_logistic_regression"}, stored.arrays, tmp_path / "future.odl")
    with pytest.raises(FormatVersionError, match="kind 'online_logistic_regression'.*upgrade oddsline"):
        oddsline.load(tmp_path / "future.odl")
