"""The journey studio: a local web page to edit a map and watch its numbers move.

``journeysim studio PATH`` serves it (:func:`journeysim.studio.server.serve`); the
application and its HTTP API are built by :func:`journeysim.studio.app.create_app`.
The page itself is plain HTML, CSS and JavaScript in ``static/``; the graph is laid out
by Graphviz's ``dot``, compiled to WebAssembly (``static/vendor/graphviz.js``).
"""

__all__ = ["Workspace", "create_app", "serve"]


def __getattr__(name):
    # The web stack loads only when the studio is used.
    if name == "create_app":
        from journeysim.studio.app import create_app
        return create_app
    if name == "serve":
        from journeysim.studio.server import serve
        return serve
    if name == "Workspace":
        from journeysim.studio.workspace import Workspace
        return Workspace
    raise AttributeError(name)
