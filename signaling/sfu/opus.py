"""What the SFU reads of an Opus packet without decoding it: whether it carries in-band FEC.

Opus's in-band forward error correction (LBRR, "low bit-rate redundancy", RFC 6716 4.2.4)
puts a coarse copy of the previous frame's speech inside the next packet, so a receiver that
loses a packet rebuilds it from the one after. The publisher's encoder adds it when its
receiver reports loss and the session said ``useinbandfec=1``; it costs a few kb/s inside
the stream's own bitrate, where sending every packet twice (``outlet.Outlet.copy_after``)
costs the whole stream again. The SFU reads the flag to know which of the two a lossy
subscriber needs.

Where the flag is: only SILK and hybrid packets carry LBRR (TOC configurations 0 to 15;
CELT-only has none). Their range-coded data begins with one VAD flag per SILK frame and
then the LBRR flag, each coded with probability one half, which a range coder writes as
plain bits: so they are the first bits of the first frame's first byte, most significant
first. A 10 or 20 ms Opus frame holds one SILK frame, 40 ms two, 60 ms three. Only the
first channel (mid, in stereo) is read: its flag comes first.
"""

from __future__ import annotations

import re

# SILK frames per Opus frame, by the low two bits of a SILK-only configuration (10, 20, 40
# and 60 ms); hybrid configurations are 10 or 20 ms: one.
_SILK_FRAMES = (1, 1, 2, 3)


def has_fec(payload: bytes | memoryview) -> bool:
    """True when this Opus packet's first frame carries LBRR data (see the module docstring).

    Packets of one frame (code 0) and of two equal frames (code 1) are read; a packet of
    two different frames or several (codes 2 and 3; browsers send 20 ms single frames)
    answers False, as does a CELT-only packet or one too short to hold a frame."""
    if len(payload) < 2:
        return False
    toc = payload[0]
    config = toc >> 3
    if config >= 16 or toc & 0x03 >= 2:
        return False
    silk_frames = _SILK_FRAMES[config & 0x03] if config < 12 else 1
    return bool(payload[1] & (0x80 >> silk_frames))


# What the SFU tells a publisher of the loss its audio meets further on (``loss_to_report``):
# from 1 %, where a whole copy of each packet would otherwise be sent to that subscriber,
# and never over 10 %, so that the report asks for FEC without telling the publisher's
# congestion control its own uplink is failing (a sender's estimate holds between 2 and 10 %
# and falls only above).
FEC_LOSS_MIN, FEC_LOSS_CAP = 0.01, 0.10
FEC_PARAMS = "minptime=10;useinbandfec=1"


def loss_to_report(downstream_loss: float) -> int:
    """The RTCP fraction lost (of 256) that asks the publisher's Opus encoder for in-band
    FEC sized for ``downstream_loss``, the worst of its subscribers' links; 0 below 1 %."""
    if downstream_loss < FEC_LOSS_MIN:
        return 0
    return int(min(downstream_loss, FEC_LOSS_CAP) * 256)


def offer_fec(sdp: str) -> str:
    """Say ``useinbandfec=1`` for Opus on every audio m-line of the SFU's offer: a browser
    encodes FEC only when the other side's description asks for it (RFC 7587 7)."""
    sections = re.split(r"(?=^m=)", sdp, flags=re.M)
    out = []
    for section in sections:
        if section.startswith("m=audio"):
            found = re.search(r"^a=rtpmap:(\d+) opus/48000", section, flags=re.M | re.I)
            if found is not None:
                section = _with_fec(section, found.group(1))
        out.append(section)
    return "".join(out)


def _with_fec(section: str, pt: str) -> str:
    fmtp = re.search(rf"^a=fmtp:{pt} (.*?)\r?$", section, flags=re.M)
    if fmtp is None:
        return re.sub(
            rf"^(a=rtpmap:{pt} .*\r?\n)",
            lambda m: f"{m.group(1)}a=fmtp:{pt} {FEC_PARAMS}\r\n",
            section,
            count=1,
            flags=re.M,
        )
    if "useinbandfec" in fmtp.group(1):
        return section
    end = fmtp.end(1)
    return f"{section[:end]};useinbandfec=1{section[end:]}"
