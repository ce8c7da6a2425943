"""The public API is exactly what __all__ says; adding or removing a name is a deliberate act."""

import oddsline

EXPECTED = {
    "wald_test",
    "lr_test",
    "inference",
    "SeparationError",
    "LRTestResult",
    "InferenceResult",
    "InferenceError",
    "ArtifactError",
    "ConvergenceWarning",
    "DataError",
    "FeatureSpec",
    "FittedFeatures",
    "FormatVersionError",
    "InputTypeError",
    "IntegrityError",
    "LogisticRegression",
    "LogisticRegressionCV",
    "Model",
    "MulticlassModel",
    "NotAnArtifactError",
    "NotFittedError",
    "OddslineError",
    "ParameterError",
    "ReadError",
    "RegularizationPath",
    "SchemaError",
    "TargetError",
    "__version__",
    "load",
    "read_table",
    "regularization_path",
    "train",
    "train_multiclass",
    "Registry",
    "RegistryBusyError",
    "RegistryError",
    "SignatureError",
    "metrics",
}


def test_all_is_pinned():
    assert set(oddsline.__all__) == EXPECTED
    for name in oddsline.__all__:
        assert hasattr(oddsline, name)


def test_every_error_is_an_oddsline_error():
    for name in oddsline.__all__:
        obj = getattr(oddsline, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and not issubclass(obj, Warning):
            assert issubclass(obj, oddsline.OddslineError), name


def test_import_does_not_pull_in_heavy_optional_packages():
    import subprocess
    import sys

    code = "import sys, oddsline; print(','.join(m for m in ('pandas', 'polars', 'sklearn', 'sqlalchemy', 'cryptography', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
