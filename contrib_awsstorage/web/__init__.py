"""The Twisted web layer: serves the Django site from Evennia's processes.

One module per concept: ``pool`` (the lockable thread pool), ``channel``
(client addresses, refusals), ``proxy`` and ``hold`` (the portal's reverse
proxy and its hold while the server restarts), ``unseen`` (what the two
sides say about refused requests), ``root`` (the server's Django root on
Twisted's ``WSGIResource``, and its drain), ``site`` (site and TCP
service), ``forwarded`` (which hops to trust), ``staticroot`` and
``static_redirect`` (``/static``), ``offreactor`` (blocking work off the
game loop). It imports neither boto3 nor Evennia; ``webserver`` is the
public facade with the original class names.
"""
