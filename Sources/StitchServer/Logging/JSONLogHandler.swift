import Foundation
import Logging

/// `log_format = json`: one JSON object per line on standard error, for log
/// shippers (Vector, Fluent Bit, Loki's promtail) that would otherwise parse
/// the text format with a regular expression:
///
/// ```
/// {"label":"stitch","level":"notice","message":"…","metadata":{"port":"7070"},"source":"StitchServer","time":"2026-12-06T00:20:00.123Z"}
/// ```
///
/// Keys are sorted; `metadata` is present only when there is some, its
/// values as text (lists and dictionaries in swift-log's own rendering).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    private let label: String
    private let write: @Sendable (String) -> Void

    /// A handler writing lines to standard error.
    public static func standardError(label: String) -> JSONLogHandler {
        JSONLogHandler(label: label) { line in
            // One write(2) per line, so lines of several threads never interleave;
            // a closed standard error (a log collector gone) loses the line, not the process.
            try? FileHandle.standardError.write(contentsOf: Data(line.utf8))
        }
    }

    /// A handler giving each line (ending in a newline) to `write`.
    public init(label: String, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    private struct Line: Encodable {
        var time: String
        var level: String
        var label: String
        var source: String
        var message: String
        var metadata: [String: String]?
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line = Line(
            time: Date().formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)),
            level: event.level.rawValue, label: label, source: event.source, message: event.message.description,
            metadata: merged.isEmpty ? nil : merged.mapValues(\.description))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(line) else { return }
        write(String(decoding: data, as: UTF8.self) + "\n")
    }
}
