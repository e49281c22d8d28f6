/// How call tracking placed a call (DESIGN.md §5), kept in the `call` table.
public struct CallMatch: Sendable, Hashable {
    public enum Kind: UInt8, Sendable, Hashable {
        /// A dynamic number's lease covered the call's time.
        case session = 1
        /// A static number: the call takes its source.
        case staticNumber = 2
        /// No lease covered it (yet), or the fallback number: unknown traffic.
        case unknown = 3
        /// The site's own number.
        case office = 4
    }

    public var kind: Kind
    /// The dialled number, normalized.
    public var trackingNumber: String
    /// `session`: the session identifier whose lease covered the call.
    public var session: String?
    /// `staticNumber`: the number's source.
    public var source: StaticNumberSource?

    public init(kind: Kind, trackingNumber: String, session: String? = nil, source: StaticNumberSource? = nil) {
        self.kind = kind
        self.trackingNumber = trackingNumber
        self.session = session
        self.source = source
    }

    /// The stored form: `u8 kind`, then length-prefixed (u16 LE) strings:
    /// tracking number, session, source, medium, campaign (empty when absent).
    var encoded: [UInt8] {
        var bytes = [kind.rawValue]
        for text in [trackingNumber, session ?? "", source?.source ?? "", source?.medium ?? "", source?.campaign ?? ""] {
            ByteCoding.appendLittleEndian(UInt16(text.utf8.count), to: &bytes)
            bytes.append(contentsOf: text.utf8)
        }
        return bytes
    }

    /// Reads the stored form; a malformed one is a corrupted store.
    init(decoding stored: UnsafeRawBufferPointer, seq: UInt64) {
        guard let first = stored.first, let kind = Kind(rawValue: first) else {
            preconditionFailure("call match of \(seq) has an unknown kind")
        }
        var offset = 1
        var texts: [String] = []
        for _ in 0..<5 {
            precondition(offset + 2 <= stored.count, "call match of \(seq) is cut short")
            let length = Int(ByteCoding.littleEndian(stored, at: offset, as: UInt16.self))
            offset += 2
            precondition(offset + length <= stored.count, "call match of \(seq) is cut short")
            texts.append(String(decoding: UnsafeRawBufferPointer(rebasing: stored[offset..<offset + length]), as: UTF8.self))
            offset += length
        }
        self.init(
            kind: kind, trackingNumber: texts[0], session: kind == .session ? texts[1] : nil,
            source: kind == .staticNumber ? StaticNumberSource(source: texts[2], medium: texts[3], campaign: texts[4]) : nil)
    }
}

/// The source a static number's calls are credited to (its utm tags).
public struct StaticNumberSource: Sendable, Hashable {
    public var source: String
    public var medium: String
    public var campaign: String

    public init(source: String, medium: String = "", campaign: String = "") {
        self.source = source
        self.medium = medium
        self.campaign = campaign
    }
}
