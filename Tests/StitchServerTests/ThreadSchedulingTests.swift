import Foundation
@testable import StitchServer
import Testing

/// `ingest_priority` and `query_slice_us` reach the threads they name, as the
/// kernel reports them in /proc (Linux).
@Suite("Thread scheduling")
struct ThreadSchedulingTests {
    /// One thread of this process as /proc/self/task/TID/stat has it.
    struct TaskState {
        var name: String
        var policy: Int
        var nice: Int
    }

    /// Every thread of this process (fields 19 and 41 of proc(5)'s stat,
    /// counted after the parenthesised name, which may hold spaces).
    static func tasks() throws -> [TaskState] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { tid in
            guard let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // fields[0] is field 3 (state): field N is fields[N - 3].
            return TaskState(name: String(stat[stat.index(after: open)..<close]), policy: Int(fields[41 - 3])!, nice: Int(fields[19 - 3])!)
        }
    }

    static func writer() throws -> TaskState? {
        try tasks().first { $0.name == "stitch-writer" }
    }

    #if os(Linux)
    @Test("ingest_priority idle: the writer and shard workers run SCHED_IDLE; nice: SCHED_OTHER with ingest_nice added")
    func ingestThreadsFollowTheSetting() async throws {
        // Servers of other suites may run in this process too: each check
        // waits for its own kind of writer thread to be the only one.
        let idle = try await TestServer {
            $0.ingestPriority = .idle
            $0.shards = 2
        }
        try await eventually("the writer and the shard worker run SCHED_IDLE (policy 5)") {
            let ingest = try Self.tasks().filter { $0.name == "stitch-writer" || $0.name.hasPrefix("stitch-shard-") }
            return ingest.contains { $0.name == "stitch-writer" && $0.policy == 5 }
                && ingest.contains { $0.name.hasPrefix("stitch-shard-") && $0.policy == 5 }
        }
        await idle.stopAndRemove()

        let niced = try await TestServer {
            $0.ingestPriority = .nice
            $0.ingestNice = 7
        }
        try await eventually("the writer runs SCHED_OTHER at nice 7") {
            try Self.tasks().contains { $0.name == "stitch-writer" && $0.policy == 0 && $0.nice == 7 }
        }
        await niced.stopAndRemove()
    }
    #endif

    @Test("query_slice_us: the query event loop asks the kernel for that slice (se.slice in /proc, EEVDF kernels)")
    func querySliceReachesTheQueryLoop() async throws {
        guard (try? String(contentsOfFile: "/proc/self/sched", encoding: .utf8))?.contains("se.slice") == true else {
            return  // a kernel without EEVDF's per-task slice (before 6.12) ignores the setting
        }
        // 250 µs: a value no other server of this test process asks for.
        let server = try await TestServer { $0.querySliceMicroseconds = 250 }
        try await eventually("a thread runs with a 250 µs slice") {
            try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").contains { tid in
                let sched = (try? String(contentsOfFile: "/proc/self/task/\(tid)/sched", encoding: .utf8)) ?? ""
                return sched.split(separator: "\n").contains { line in
                    line.hasPrefix("se.slice") && line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) == "250000"
                }
            }
        }
        await server.stopAndRemove()
    }

    @Test("ingest_priority and query_slice_us: named values and the kernel's range, or a refusal by name")
    func settingsAreChecked() throws {
        var configuration = ServerConfiguration()
        #expect(configuration.ingestPriority == .idle)
        try ConfigurationKey.applyAssignment("ingest_priority=nice", to: &configuration)
        #expect(configuration.ingestPriority == .nice)
        #expect(throws: ConfigurationError.self) {
            try ConfigurationKey.applyAssignment("ingest_priority=realtime", to: &configuration)
        }
        for slice in [0, 100, 100_000] {
            configuration.querySliceMicroseconds = slice
            try configuration.validate()
        }
        for slice in [50, 100_001] {
            configuration.querySliceMicroseconds = slice
            #expect(throws: (any Error).self) { try configuration.validate() }
        }
    }
}
