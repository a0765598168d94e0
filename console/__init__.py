"""Every page staff use: the model admins, the two-step actions that change types
(review, backfill, reprobe), the reprobe page and the dashboard. It holds no
domain rule: it calls the apps that own them.
"""
