"""dsflow runtime: the library a dsflow project's recipes, jobs and notebooks import.

Installed into each project as the ``dsflow-runtime`` distribution, pinned to the template
release the project was rendered from; ``copier update`` (``just update``) moves the pin.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dsflow-runtime")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
