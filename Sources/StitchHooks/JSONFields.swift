import Foundation

/// Reading provider JSON, which is loose about types: an id may come as
/// `2198` or `"2198"`, a missing value as `null` or absent.
struct JSONFields {
    let object: [String: Any]

    init(_ object: [String: Any]) {
        self.object = object
    }

    /// The body parsed as a JSON object, or nil.
    init?(body: [UInt8]) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else { return nil }
        self.object = object
    }

    /// A nested object (empty when absent or not an object).
    subscript(object key: String) -> JSONFields {
        JSONFields(object[key] as? [String: Any] ?? [:])
    }

    /// A string or number as text; nil when absent, null or empty.
    subscript(text key: String) -> String? {
        switch object[key] {
        case let text as String: text.isEmpty ? nil : text
        case let number as NSNumber: number.stringValue
        default: nil
        }
    }

    /// A whole number, from a number or numeric text.
    subscript(integer key: String) -> Int64? {
        switch object[key] {
        case let number as NSNumber: number.int64Value
        case let text as String: Int64(text)
        default: nil
        }
    }

    /// The objects of an array (empty when absent).
    subscript(array key: String) -> [JSONFields] {
        (object[key] as? [Any] ?? []).compactMap { ($0 as? [String: Any]).map(JSONFields.init) }
    }
}

/// Compares secrets in time independent of where they first differ.
func secretsEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    var difference = UInt8(x.count == y.count ? 0 : 1)
    for index in 0..<max(x.count, y.count) {
        difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
    }
    return difference == 0
}
