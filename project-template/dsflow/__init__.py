"""dsflow runtime: the small library a dsflow project's recipes and notebooks import.

Vendored into every project by the dsflow template and upgraded by ``copier update``;
edit it in the template repository, not in a project.
"""

__version__ = "0.1.0"
