extension String {
    /// The text of a C function's NUL-terminated output buffer (`inet_ntop`,
    /// `getnameinfo`): up to the first NUL, or all of it if there is none.
    /// `String(cString:)` on an array is deprecated, and could read past a
    /// buffer with no NUL.
    init(nulTerminated buffer: [CChar]) {
        let length = buffer.firstIndex(of: 0) ?? buffer.count
        self.init(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
