"""Session recordings: the room listener that remuxes forwarded VP8/Opus into per-track WebM
files, crash recovery, sealing (hashes and an Ed25519-signed manifest), verification, the
composite playback file, retention, and what people do with recordings (``actions``: the
domain side of the recordings API and pages).

Recordings never import signaling: ``recordings.ports`` declares what they need of the live
rooms, and ``server.live`` builds the recording service and hands it the rooms.
"""

from __future__ import annotations
