"""The feature platform: what every feature declares and what both adapters render.

Nothing here imports discord. A feature (``bot/features/*``) returns a ``Feature`` from its
``setup(services)``; the runtime loads the configured features in order and wires their
message hooks into one ``Pipeline``, their jobs into one ``Jobs`` supervisor, their
commands into both adapters, and their member-data hooks into export and deletion.
"""
