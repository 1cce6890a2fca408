"""The runtime's fast unit tier; a package, so its conftest does not shadow tests/conftest.py."""
