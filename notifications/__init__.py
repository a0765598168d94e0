"""Telling owners and staff what happened to their agents.

``audit`` writes the outbox (``audit.Notice``) in the same transaction as the
change it tells of; this app turns each notice into deliveries per the member
profile's choices (``NotificationSettings``), and sends them: email to owners
(each event, or a daily digest) and signed webhooks to the profile's endpoints
(``WebhookEndpoint``), each ``Delivery`` retried with backoff for a day. The
deliveries run on their own RQ queue (``notifications``) with their own timeout,
after every commit that wrote notices and from the cron; the notifications API
lets owners choose what they receive and see their webhooks' last deliveries.
"""
