import Foundation
import StitchIdentity
import StitchTesting
import StitchWire
import Testing

/// Runs the built `stitch` binary as a user would.
@Suite struct CLITests {
    struct Run {
        var status: Int32
        var out: String
        var err: String
    }

    /// The `stitch` executable SwiftPM built next to this test bundle.
    static let binary: URL = {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if directory.pathExtension == "xctest" || directory.lastPathComponent == "MacOS" {
            directory = directory.deletingLastPathComponent()
        }
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("stitch").path),
            directory.path != "/"
        {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("stitch")
    }()

    static func stitch(_ arguments: String...) throws -> Run {
        try stitch(arguments: arguments)
    }

    /// `stitch` on a Dispatch thread: an async test that waits for it keeps
    /// Swift's cooperative pool free for the clients it runs meanwhile.
    static func stitchOffPool(_ arguments: String...) async throws -> Run {
        try await stitchOffPool(arguments: arguments)
    }

    static func stitchOffPool(arguments: [String]) async throws -> Run {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try stitch(arguments: arguments) }) }
        }
    }

    static func stitch(arguments: [String]) throws -> Run {
        try run(binary, arguments: arguments)
    }

    /// Another program (`curl`, by PATH through `/usr/bin/env`) on a Dispatch thread, as `stitchOffPool`.
    static func runOffPool(_ program: String, arguments: [String]) async throws -> Run {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try run(URL(fileURLWithPath: "/usr/bin/env"), arguments: [program] + arguments) })
            }
        }
    }

    /// Runs `executable` to its end, collecting both outputs (`ChildProcess`:
    /// Foundation's `Process.run()` can crash in a process holding many descriptors).
    static func run(_ executable: URL, arguments: [String]) throws -> Run {
        let finished = try ChildProcess.run(executable.path, arguments: arguments)
        return Run(
            status: finished.status,
            out: String(decoding: finished.out, as: UTF8.self),
            err: String(decoding: finished.err, as: UTF8.self)
        )
    }

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("ChildProcess: both outputs apart, the exit status or the ending signal, and no descriptor of the test process but the standard three")
    func childProcessRunsCleanly() throws {
        let printed = try ChildProcess.run("/bin/sh", arguments: ["-c", "echo out; echo err >&2; exit 3"])
        #expect(printed.status == 3)
        #expect(String(decoding: printed.out, as: UTF8.self) == "out\n" && String(decoding: printed.err, as: UTF8.self) == "err\n")
        #expect(try ChildProcess.run("/bin/sh", arguments: ["-c", "kill -TERM $$"]).status == SIGTERM)
        // The test process holds hundreds of descriptors (servers, stores); the child sees 0, 1, 2 and ls's own.
        let listed = try ChildProcess.run("/bin/ls", arguments: ["/proc/self/fd"])
        let descriptors = String(decoding: listed.out, as: UTF8.self).split(separator: "\n").compactMap { Int($0) }
        #expect(descriptors.filter { $0 > 3 }.isEmpty, "inherited: \(descriptors)")
        // A long-running child: running until signalled, then reaped once.
        let sleeper = try ChildProcess("/bin/sleep", arguments: ["30"])
        #expect(sleeper.isRunning)
        sleeper.signal(SIGKILL)
        #expect(sleeper.wait() == SIGKILL && !sleeper.isRunning && sleeper.wait() == SIGKILL)
        // Signalled from another thread while this one waits for it.
        let waited = try ChildProcess("/bin/sleep", arguments: ["30"])
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(50)) { waited.signal(SIGTERM) }
        #expect(waited.wait() == SIGTERM)
    }

    @Test func normalizePrintsTheValueAndExitsZero() throws {
        let run = try Self.stitch("normalize", "phone", "8 (495) 123-45-67")
        #expect(run.status == 0)
        #expect(run.out == "+74951234567\n")
        #expect(run.err.isEmpty)
        let chat = try Self.stitch("normalize", "chat", "v-1", "--namespace", "Jivo")
        #expect(chat.out == "jivo:v-1\n")
    }

    @Test func normalizeExplainsARejectionOnStandardError() throws {
        let run = try Self.stitch("normalize", "cookie", "undefined")
        #expect(run.status == 1)
        #expect(run.out.isEmpty)
        #expect(run.err.contains("junk"))
    }

    @Test func unknownKindIsAUsageError() throws {
        let run = try Self.stitch("normalize", "telephone", "123")
        #expect(run.status == 64, "EX_USAGE, as ArgumentParser reports a validation error")
        #expect(run.err.contains("expected one of: cookie, session, ga_client_id"))
    }

    @Test func helpNamesTheSubcommands() throws {
        let run = try Self.stitch("--help")
        #expect(run.status == 0)
        #expect(run.out.contains("normalize") && run.out.contains("inspect"))
    }

    @Test func inspectDecodesAGoldenFrame() throws {
        let path = Self.repositoryRoot.appendingPathComponent("proto/golden/journey-compressed.hex").path
        let run = try Self.stitch("inspect", path)
        #expect(run.status == 0, "\(run.err)")
        #expect(run.out.contains("7 beacon(s) accepted, 0 rejected"))
        #expect(run.out.contains("revenue_minor: 1250000"))
    }

    @Test func inspectFailsOnACorruptFrame() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("stitch-cli-\(UUID()).hex")
        defer { try? FileManager.default.removeItem(at: file) }
        try "53 54 01 01 00 00 00 00  00 00 00 00 00 00 00 01  00 00 00 01 00 00 00 01 00 00 00 00 ff"
            .write(to: file, atomically: true, encoding: .utf8)
        let run = try Self.stitch("inspect", file.path)
        #expect(run.status == 1)
        #expect(run.out.contains("checksum_mismatch"))
    }

    @Test func identifierKindsMatchTheProtoEnum() {
        for kind in IdentifierKind.allCases {
            let proto = Stitch_V1_IdentifierKind(rawValue: Int(kind.rawValue))
            let protoName = proto.map { "\($0)" }?.lowercased()
            #expect(protoName?.replacingOccurrences(of: "id", with: "ID").lowercased()
                == kind.name.replacingOccurrences(of: "_", with: "").lowercased(), "\(kind.name)")
        }
        #expect(Stitch_V1_IdentifierKind.allCases.count == IdentifierKind.allCases.count + 1)  // + unspecified
    }
}
