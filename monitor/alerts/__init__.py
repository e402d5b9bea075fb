"""Alert events, the channels that deliver them, and the outbox that drives delivery.

- :mod:`monitor.alerts.events` builds the event payloads (one place for their shape,
  described by the JSON Schema files in ``monitor/alerts/schemas/``);
- :mod:`monitor.alerts.channels` builds one channel per ``[alerts.NAME]``
  (:mod:`.webhook`, :mod:`.chat`, :mod:`.email`), each with ``async send(event) -> Delivery``;
  :mod:`monitor.alerts.base` holds what they share (``Delivery``, ``post``, ``missing_env``);
- :mod:`monitor.alerts.outbox` delivers what the store's outbox holds: retries, dead
  letters, digests and rate limits.
"""

from monitor.alerts.base import Channel, Delivery
from monitor.alerts.channels import channel_problems, format_line, make_channels
from monitor.alerts.events import article_matched, new_event_id
from monitor.alerts.outbox import DeliveryReport, Outbox

__all__ = [
    "Channel",
    "Delivery",
    "DeliveryReport",
    "Outbox",
    "article_matched",
    "channel_problems",
    "format_line",
    "make_channels",
    "new_event_id",
]
