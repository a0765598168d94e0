"""The registry itself: one ``Agent`` per canonical endpoint, its ``CapabilitySnapshot``.

Owns the type vocabulary (``registry.types``), URL canonicalisation
(``registry.canonical``), the single writer of the published type
(``registry.publish.apply_type_changes``), the review plan, and what the world
reads: the public page and the JSON API. It never calls the network.
"""
