"""Alert events, the channels that deliver them, and the outbox that drives delivery.

- :mod:`monitor.alerts.events` builds the event payloads (one place for their shape);
- :mod:`monitor.alerts.channels` holds one class per channel type, each with
  ``async send(event) -> Delivery``;
- :mod:`monitor.alerts.outbox` delivers what the store's outbox holds, with retries.
"""

from monitor.alerts.channels import Channel, Delivery, make_channels
from monitor.alerts.events import article_matched, new_event_id
from monitor.alerts.outbox import Outbox

__all__ = ["Channel", "Delivery", "Outbox", "article_matched", "make_channels", "new_event_id"]
