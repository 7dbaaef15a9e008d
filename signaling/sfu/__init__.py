"""Pass-through SFU on aiortc: forwards VP8/Opus RTP between the participants of a room with
no decode and no encode. ``Sfu`` is the API signaling uses; ``MediaTap`` is how recordings
see the forwarded packets (``FrameAssembler`` rebuilds frames from them)."""

from signaling.sfu.media import EncodedFrame, FrameAssembler, MediaPacket, MediaTap
from signaling.sfu.sfu import Sfu, SfuError

__all__ = ["EncodedFrame", "FrameAssembler", "MediaPacket", "MediaTap", "Sfu", "SfuError"]
