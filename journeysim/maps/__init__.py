"""The map format: every attribute (:mod:`~.schema`, :mod:`~.values`, :mod:`~.agents`), reading and
checking (:mod:`~.read`, :mod:`~.checks`), writing (:mod:`~.write`) and the other formats (:mod:`~.convert`).
"""
