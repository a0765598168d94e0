"""History no one can rewrite.

``TypeReclassification`` records every change of an agent's type (and every
disagreement and review decision), written only through ``audit.models.record``
/ ``record_many`` inside the change's own transaction; the ORM, database
triggers and the runtime role refuse UPDATE, DELETE and TRUNCATE. The outbox
(``Notice``) is written in the same transaction, so every committed change is
told and no rolled-back one is. ``create_db_roles`` makes the runtime role.
"""
