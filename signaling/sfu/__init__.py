"""Pass-through SFU on aiortc: forwards VP8/Opus RTP between the participants of a room with
no decode and no encode. ``Sfu`` is the API the hub uses; ``MediaTap`` is how the hub sees
tracks enter and leave rooms and hands their packets on (``FrameAssembler`` rebuilds frames
from them)."""

from signaling.sfu.media import EncodedFrame, FrameAssembler, MediaPacket, MediaTap
from signaling.sfu.sfu import Sfu, SfuError

__all__ = ["EncodedFrame", "FrameAssembler", "MediaPacket", "MediaTap", "Sfu", "SfuError"]
