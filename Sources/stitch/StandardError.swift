#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes one line to standard error, where the CLI sends every diagnostic so
/// that standard output stays clean for scripts.
func printToStandardError(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    // write(2) rather than fputs(stderr): no shared C stream state to guard.
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}
