/// A session's current lease of a tracking number, by event time: it covers
/// [startMs, endMs], where end = last activity + the pool's hold time.
///
/// ```
/// u32 site, i64 start ms, i64 end ms (all LE), then the number (E.164 UTF-8)
/// ```
struct LeaseRecord: Equatable {
    var site: UInt32
    var number: String
    var startMs: Int64
    var endMs: Int64

    init(site: UInt32, number: String, startMs: Int64, endMs: Int64) {
        self.site = site
        self.number = number
        self.startMs = startMs
        self.endMs = endMs
    }

    init(decoding bytes: UnsafeRawBufferPointer) {
        site = ByteCoding.littleEndian(bytes, at: 0, as: UInt32.self)
        startMs = ByteCoding.littleEndian(bytes, at: 4, as: Int64.self)
        endMs = ByteCoding.littleEndian(bytes, at: 12, as: Int64.self)
        number = String(decoding: bytes[20...], as: UTF8.self)
    }

    func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(20 + number.utf8.count)
        ByteCoding.appendLittleEndian(site, to: &bytes)
        ByteCoding.appendLittleEndian(startMs, to: &bytes)
        ByteCoding.appendLittleEndian(endMs, to: &bytes)
        bytes.append(contentsOf: number.utf8)
        return bytes
    }

    func covers(_ timeMs: Int64) -> Bool { startMs <= timeMs && timeMs <= endMs }
}
