import Foundation
import StitchTesting
import Testing

/// The documentation is checked like code: the reference pages match the
/// binary, every link resolves, every `$ stitch` example prints what the page
/// says, and the README's first beacon and lookup run against a real server.
@Suite("Documentation")
struct DocsTests {
    static let root = CLITests.repositoryRoot.path

    static func read(_ path: String) throws -> String {
        try String(contentsOfFile: root + "/" + path, encoding: .utf8)
    }

    /// Every Markdown page a reader follows: README, changelog, docs/, the framing spec, the Python client's.
    static func pages() throws -> [String] {
        let docs = try FileManager.default.contentsOfDirectory(atPath: root + "/docs").filter { $0.hasSuffix(".md") }.map { "docs/" + $0 }
        return ["README.md", "CHANGELOG.md", "proto/FRAMING.md", "clients/python/README.md"] + docs.sorted()
    }

    @Test("docs/configuration.md and docs/metrics.md are what the binary prints: every setting and every metric, current")
    func referencePagesAreCurrent() throws {
        let settings = try CLITests.stitch("serve", "--settings-reference")
        #expect(settings.status == 0)
        #expect(try Self.read("docs/configuration.md") == Self.read("docs/parts/configuration-head.md") + settings.out,
                "run ops/generate-reference-docs.sh")
        let metrics = try CLITests.stitch("serve", "--metrics-reference")
        #expect(try Self.read("docs/metrics.md") == Self.read("docs/parts/metrics-head.md") + metrics.out,
                "run ops/generate-reference-docs.sh")
        // The same settings `stitch serve --help` lists.
        let help = try CLITests.stitch("serve", "--help").out
        let names = settings.out.split(separator: "\n").dropFirst(2).map { String($0.split(separator: "`")[1]) }
        #expect(names.count > 80)
        for name in names { #expect(help.contains("  \(name) "), "\(name) is not in stitch serve --help") }
        #expect(metrics.out.split(separator: "\n").count > 60)
    }

    /// GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens.
    static func anchor(_ heading: String) -> String {
        String(heading.lowercased().compactMap { character -> Character? in
            if character == " " { return "-" }
            return character.isLetter || character.isNumber || character == "-" || character == "_" ? character : nil
        })
    }

    @Test("every relative link of the docs names a file that exists, and a heading there when it has an anchor")
    func linksResolve() throws {
        let link = #/\]\(([^)\s]+)\)/#
        var checked = 0
        for page in try Self.pages() {
            let text = try Self.read(page)
            let directory = (page as NSString).deletingLastPathComponent
            for match in text.matches(of: link) {
                let target = String(match.1)
                guard !target.hasPrefix("http://"), !target.hasPrefix("https://"), !target.hasPrefix("mailto:") else { continue }
                let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                let file = parts[0].isEmpty ? page : ((directory as NSString).appendingPathComponent(parts[0]) as NSString).standardizingPath
                #expect(FileManager.default.fileExists(atPath: Self.root + "/" + file), "\(page): \(target) does not exist")
                if parts.count == 2, file.hasSuffix(".md"), let linked = try? Self.read(file) {
                    let anchors = linked.split(separator: "\n").filter { $0.hasPrefix("#") }.map { Self.anchor($0.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces)) }
                    #expect(anchors.contains(parts[1]), "\(page): no heading #\(parts[1]) in \(file)")
                }
                checked += 1
            }
        }
        #expect(checked > 50)
    }

    /// Marks an example that runs against a server holding the README's journey.
    static let journeyMark = "# after importing examples/journey.ndjson"

    /// `$ stitch …` lines with their printed lines, from the fenced blocks of
    /// `text`; `journey`: the line carries `journeyMark`.
    static func examples(in text: String) -> [(command: [String], expected: [String], journey: Bool)] {
        var found: [(command: [String], expected: [String], journey: Bool)] = []
        var inBlock = false
        var current: Int?  // the example whose output the block's next lines are
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inBlock.toggle()
                current = nil
                continue
            }
            guard inBlock else { continue }
            if line.hasPrefix("$ stitch ") {
                let command = line.components(separatedBy: "  #").first!.trimmingCharacters(in: .whitespaces)
                found.append((shellWords(String(command.dropFirst(2))), [], line.contains(journeyMark)))
                current = found.count - 1
            } else if line.hasPrefix("$ ") {
                current = nil
            } else if let current {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if !trimmed.isEmpty, trimmed != "…" { found[current].expected.append(trimmed) }
            }
        }
        return found
    }

    /// Words of a command line, single quotes kept together.
    static func shellWords(_ line: String) -> [String] {
        var words: [String] = []
        var current = "", quoted = false, started = false
        for character in line {
            if character == "'" {
                quoted.toggle()
                started = true
            } else if character == " " && !quoted {
                if started { words.append(current) }
                current = ""
                started = false
            } else {
                current.append(character)
                started = true
            }
        }
        if started { words.append(current) }
        return words
    }

    @Test("every `$ stitch` example that needs no server prints what the page shows")
    func examplesPrintWhatTheDocsSay() throws {
        var ran = 0
        for page in try Self.pages() {
            for example in Self.examples(in: try Self.read(page)) {
                let subcommand = example.command.dropFirst().first ?? ""
                guard ["normalize", "inspect"].contains(subcommand) else { continue }  // the others need a server: below
                let arguments = example.command.dropFirst().map { $0.hasPrefix("proto/") ? Self.root + "/" + $0 : $0 }
                let run = try CLITests.stitch(arguments: Array(arguments))
                let printed = (run.out + run.err).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                for line in example.expected where !line.hasSuffix("…") {
                    #expect(printed.contains(line), "\(page): `\(example.command.joined(separator: " "))` did not print \(line); it printed \(printed)")
                }
                ran += 1
            }
        }
        #expect(ran >= 5)
    }

    @Test("the README's first beacon and first lookup: the journey is imported once, and the person is the one shown")
    func readmeQuickStartRuns() async throws {
        let readme = try Self.read("README.md")
        let section = try #require(readme.components(separatedBy: "## A first beacon and a first lookup").last)
        let blocks = section.components(separatedBy: "```").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        let commands = try #require(blocks.first).split(separator: "\n").filter { $0.hasPrefix("ops/run.sh ") }
        let shown = try #require(blocks.dropFirst().first).split(separator: "\n").dropFirst()
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && $0 != "…" }
        #expect(commands.count == 3)

        let directory = try TemporaryDirectory("stitch-readme")
        defer { directory.remove() }
        let serve = try ServeProcessTests.ServeProcess(directory: directory)
        defer { _ = serve.signal(SIGTERM) }
        var printed: [String] = []
        for command in commands {
            // `ops/run.sh ARGS` is `stitch ARGS`; the example file is named from the repository's root.
            var arguments = Self.shellWords(String(command.dropFirst("ops/run.sh ".count)))
            arguments = arguments.map { $0 == "examples/journey.ndjson" ? Self.root + "/" + $0 : $0 }
            arguments += arguments[0] == "import"
                ? ["--server", "127.0.0.1:\(serve.ports["ingest"]!)"] : ["--server", serve.queryServer]
            let run = try await CLITests.stitchOffPool(arguments: arguments)
            #expect(run.status == 0, "\(arguments): \(run.err)")
            printed += run.out.replacingOccurrences(of: Self.root + "/", with: "").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        }
        for line in shown { #expect(printed.contains(line), "the README shows \(line); the commands printed \(printed)") }
        let again = try await CLITests.stitchOffPool(arguments: ["import", Self.root + "/examples/journey.ndjson", "--server", "127.0.0.1:\(serve.ports["ingest"]!)"])
        #expect(again.out.contains("imported 0, repeats 7"), "the README says a second import stores nothing new: \(again.out)")

        // The pages' query examples that say they run on the journey.
        var ran = 0
        for page in try Self.pages() {
            for example in Self.examples(in: try Self.read(page)) where example.journey {
                let run = try await CLITests.stitchOffPool(arguments: Array(example.command.dropFirst()) + ["--server", serve.queryServer])
                let lines = run.out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                for line in example.expected where !line.hasSuffix("…") {
                    #expect(lines.contains(line), "\(page): `\(example.command.joined(separator: " "))` did not print \(line): \(lines)")
                }
                ran += 1
            }
        }
        #expect(ran >= 1)
    }
}
