"""The audit log's files as the tests read and damage them (docs/audit.md):
`entries` is u32 length || leaf, appended; `checkpoints` is u32 length ||
note || u32 length. Import after sys.path.insert(0, CV_TESTLIB)."""
import struct

def frames(data, trailer=0):
    """(offset, length) of each frame in DATA (bytes): a big-endian u32
    length, that many bytes, then TRAILER bytes more (4 in checkpoints).
    A torn last frame is listed with the length it claims."""
    out, off = [], 0
    while off + 4 <= len(data):
        n = struct.unpack(">I", data[off:off + 4])[0]
        out.append((off, n))
        off += 4 + n + trailer
    return out

def leaves(data):
    """The leaves (bytes) of an entries file's DATA, in order."""
    return [data[o + 4:o + 4 + n] for o, n in frames(data)]
