import Foundation
import StitchTesting
import Testing

/// The documentation is checked like code: the reference pages match the
/// binary, every link resolves, every `$ stitch` and `$ curl` example prints
/// what the page says (against a real server when it needs one), every JSON
/// snippet is a setting `stitch serve` accepts or a line of an example file,
/// and the README's first beacon and lookup run.
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

    @Test("every repository path the pages name in prose (`ops/…`, `Sources/…`, …) exists")
    func namedPathsExist() throws {
        // From the repository's root, as the pages write them; the changelog may name what is gone.
        let path = #/(?:^|[^\w./-])((?:ops|Sources|Tests|proto|examples|clients|tracker|explorer|Benchmarks|docs)/[A-Za-z0-9_./+-]*[A-Za-z0-9_])/#
        var checked = 0
        for page in try Self.pages() where page != "CHANGELOG.md" {
            for match in try Self.read(page).matches(of: path.anchorsMatchLineEndings()) {
                let named = String(match.1)
                guard !named.contains("<") else { continue }
                #expect(FileManager.default.fileExists(atPath: Self.root + "/" + named), "\(page) names \(named), which does not exist")
                checked += 1
            }
        }
        #expect(checked > 100)
    }

    /// Marks an example that runs against a server holding the README's journey.
    static let journeyMark = "# after importing examples/journey.ndjson"

    /// One `$ …` command of a page's fenced blocks and the lines the page shows it printing.
    struct Example {
        var command: [String]
        var expected: [String]
        /// The line carries `journeyMark`.
        var journey: Bool

        /// `stitch`, `curl`, ….
        var program: String { command.first ?? "" }
        /// `normalize`, `query`, `import`, … for `stitch`.
        var subcommand: String { command.dropFirst().first ?? "" }
        /// Runs with no server: `stitch normalize` and `stitch inspect`.
        var offline: Bool { program == "stitch" && ["normalize", "inspect"].contains(subcommand) }

        /// The expected lines that `printed` lacks. A line ending in `…` is a
        /// prefix (the rest varies: a lease's expiry); a lone `…` stands for
        /// lines left out; a JSON line is compared as JSON.
        func missing(from printed: [String]) -> [String] {
            expected.filter { line in
                if line.hasSuffix("…") { return !printed.contains { $0.hasPrefix(line.dropLast()) } }
                if line.hasPrefix("{"), let shown = DocsTests.json(line) {
                    return !printed.contains { DocsTests.json($0) == shown }
                }
                return !printed.contains(line)
            }
        }
    }

    /// `text` parsed as a JSON object, for comparing key order aside.
    static func json(_ text: String) -> NSDictionary? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? NSDictionary
    }

    /// The `$ …` commands of `text`'s fenced blocks, in page order, with their printed lines.
    static func examples(in text: String) -> [Example] {
        var found: [Example] = []
        var inBlock = false
        var current: Int?  // the example whose output the block's next lines are
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inBlock.toggle()
                current = nil
                continue
            }
            guard inBlock else { continue }
            if line.hasPrefix("$ ") {
                let command = line.components(separatedBy: "  #").first!.trimmingCharacters(in: .whitespaces)
                found.append(Example(command: shellWords(String(command.dropFirst(2))), expected: [], journey: line.contains(journeyMark)))
                current = found.count - 1
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

    @Test("every `$ stitch normalize|inspect` example prints what the page shows")
    func offlineExamplesPrintWhatTheDocsSay() throws {
        var ran = 0
        for page in try Self.pages() {
            for example in Self.examples(in: try Self.read(page)) where example.offline {
                let run = try CLITests.stitch(arguments: Self.rooted(Array(example.command.dropFirst())))
                let printed = Self.lines(run.out + run.err)
                #expect(example.missing(from: printed).isEmpty,
                        "\(page): `\(example.command.joined(separator: " "))` did not print \(example.missing(from: printed)); it printed \(printed)")
                ran += 1
            }
        }
        #expect(ran >= 5)
    }

    @Test("every other `$ stitch` and `$ curl` example runs, in page order, against a new server of its page, and prints what the page shows")
    func serverExamplesPrintWhatTheDocsSay() async throws {
        var ran = 0
        for page in try Self.pages() {
            let examples = Self.examples(in: try Self.read(page)).filter { !$0.offline }
            guard !examples.isEmpty else { continue }
            #expect(examples.allSatisfy { ["stitch", "curl"].contains($0.program) }, "\(page): an example this test cannot run")
            let directory = try TemporaryDirectory("stitch-docs")
            defer { directory.remove() }
            let serve = try ServeProcessTests.ServeProcess(directory: directory)
            defer { _ = serve.signal(SIGTERM) }
            let ingest = "127.0.0.1:\(serve.ports["ingest"]!)"
            if examples.contains(where: \.journey) {
                let imported = try await CLITests.stitchOffPool(arguments: ["import", Self.root + "/examples/journey.ndjson", "--server", ingest])
                #expect(imported.status == 0, "\(imported.err)")
            }
            for example in examples {
                let run: CLITests.Run
                if example.program == "curl" {
                    // The page's address is the default internal port; the test's server has its own.
                    let arguments = example.command.dropFirst().map {
                        $0.replacingOccurrences(of: "127.0.0.1:7072", with: "127.0.0.1:\(serve.ports["http"]!)")
                    }
                    run = try await CLITests.runOffPool("curl", arguments: Array(arguments))
                } else {
                    let server = example.subcommand == "import" ? ingest : serve.queryServer
                    run = try await CLITests.stitchOffPool(arguments: Self.rooted(Array(example.command.dropFirst())) + ["--server", server])
                }
                #expect(run.status == 0, "\(page): `\(example.command.joined(separator: " "))` failed: \(run.err)")
                let printed = Self.lines(run.out)
                #expect(example.missing(from: printed).isEmpty,
                        "\(page): `\(example.command.joined(separator: " "))` did not print \(example.missing(from: printed)); it printed \(printed)")
                ran += 1
            }
        }
        #expect(ran >= 7)
    }

    /// The text of each ```json block of `text`.
    static func jsonBlocks(in text: String) -> [String] {
        text.components(separatedBy: "```").enumerated().filter { $0.offset % 2 == 1 && $0.element.hasPrefix("json\n") }
            .map { String($0.element.dropFirst("json\n".count)) }
    }

    @Test("every JSON snippet is what its page says: settings `stitch serve` accepts, lines of an example file, JSON")
    func jsonSnippetsAreValid() throws {
        let examples = try FileManager.default.contentsOfDirectory(atPath: Self.root + "/examples").filter { $0.hasSuffix(".ndjson") }
            .flatMap { try Self.read("examples/" + $0).split(separator: "\n").map(String.init) }
        var settings = 0
        for page in try Self.pages() {
            for block in Self.jsonBlocks(in: try Self.read(page)) {
                let text = block.trimmingCharacters(in: .whitespacesAndNewlines)
                if text.hasPrefix("\"") {
                    // `"name": value` of the configuration file: stitch serve must accept it.
                    let object = try #require(Self.json("{" + text + "}"), "\(page): not a JSON member: \(text)")
                    for case let (name as String, value) in object {
                        let encoded = try #require(String(data: JSONSerialization.data(withJSONObject: value), encoding: .utf8))
                        let run = try CLITests.stitch("serve", "--print-config", "--set", "\(name)=\(encoded)")
                        #expect(run.status == 0, "\(page): stitch serve refuses the snippet's \(name): \(run.err)")
                        settings += 1
                    }
                } else if text.hasPrefix("{\"site\"") {
                    for line in text.split(separator: "\n") {
                        #expect(examples.contains(String(line)), "\(page): a beacon line that no file in examples/ holds: \(line)")
                    }
                } else {
                    #expect(Self.json(text.replacingOccurrences(of: "\n", with: " ")) != nil, "\(page): not JSON: \(text)")
                }
            }
        }
        #expect(settings >= 2)
    }

    /// Arguments naming the repository's files (`examples/…`, `proto/…`) made absolute.
    static func rooted(_ arguments: [String]) -> [String] {
        arguments.map { $0.hasPrefix("proto/") || $0.hasPrefix("examples/") ? root + "/" + $0 : $0 }
    }

    /// Printed lines, trimmed, with the repository's path taken out again.
    static func lines(_ output: String) -> [String] {
        output.replacingOccurrences(of: root + "/", with: "").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
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
            var arguments = Self.rooted(Self.shellWords(String(command.dropFirst("ops/run.sh ".count))))
            arguments += arguments[0] == "import"
                ? ["--server", "127.0.0.1:\(serve.ports["ingest"]!)"] : ["--server", serve.queryServer]
            let run = try await CLITests.stitchOffPool(arguments: arguments)
            #expect(run.status == 0, "\(arguments): \(run.err)")
            printed += Self.lines(run.out)
        }
        for line in shown { #expect(printed.contains(line), "the README shows \(line); the commands printed \(printed)") }
        let again = try await CLITests.stitchOffPool(arguments: ["import", Self.root + "/examples/journey.ndjson", "--server", "127.0.0.1:\(serve.ports["ingest"]!)"])
        #expect(again.out.contains("imported 0, repeats 7"), "the README says a second import stores nothing new: \(again.out)")
    }
}
