"""The transcoding baseline: aiortc's stock MediaRelay (decode once, encode per subscriber).

Only ``Sfu(mode="transcode")`` uses it, and only the benchmark builds such an Sfu: it is the
measured "before" that the pass-through path is compared with, never the live path.
"""

from __future__ import annotations

from typing import Any

from aiortc.contrib.media import MediaRelay


class Relay:
    """One MediaRelay; each subscription re-encodes the publisher's decoded frames."""

    def __init__(self) -> None:
        self._relay = MediaRelay()

    def subscribe(self, source: Any) -> Any:
        # unbuffered: a subscriber that falls behind gets the latest frame, memory stays flat
        return self._relay.subscribe(source, buffered=False)


def stop_sender_track(sender: Any) -> None:
    """End a relayed track; its sender's encode loop then stops for good."""
    if sender.track is not None:
        sender.track.stop()
