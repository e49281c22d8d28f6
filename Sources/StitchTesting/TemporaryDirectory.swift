import Foundation

/// A fresh directory under the system's temporary directory, removed by
/// `remove()`; for tests that open real stores.
public struct TemporaryDirectory: Sendable {
    /// The directory's absolute path.
    public let path: String

    public init(_ prefix: String = "stitch-test") throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    /// A path inside the directory.
    public func appending(_ component: String) -> String {
        (path as NSString).appendingPathComponent(component)
    }

    /// Deletes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
