"""The ``oddsline`` command. An optional layer: the library never imports it."""
