import Foundation
import StitchTesting

/// A minimal W3C WebDriver client for the browser tests: starts Debian's
/// `chromedriver` on a free port, opens one headless Chromium session, and
/// speaks the few commands the tests need (navigate, execute script).
final class WebDriver {
    enum Failure: Error, CustomStringConvertible {
        case missing(String)
        case command(String, String)
        var description: String {
            switch self {
            case .missing(let what): "\(what) not found: run ops/test.sh, which installs chromium and chromium-driver for the tests"
            case .command(let path, let message): "WebDriver \(path): \(message)"
            }
        }
    }

    private let process: ChildProcess
    private let base: URL
    private var session = ""
    private var released = false

    private init(process: ChildProcess, base: URL) {
        self.process = process
        self.base = base
    }

    /// Starts chromedriver and a headless Chromium session; `arguments` go
    /// to Chromium (a user agent, host mapping rules). At most
    /// `BrowserSlots.max` run at once across the test run: each Chromium
    /// start takes a core for seconds, and timing-sensitive tests share the
    /// machine.
    static func start(arguments: [String] = []) async throws -> WebDriver {
        await BrowserSlots.shared.acquire(1)
        do {
            return try await launch(arguments: arguments)
        } catch {
            await BrowserSlots.shared.release(1)
            throw error
        }
    }

    /// Two browsers at once (two visitors side by side), taken as one claim
    /// so two tests waiting for their second browser cannot block each other.
    static func startTwo() async throws -> (WebDriver, WebDriver) {
        await BrowserSlots.shared.acquire(2)
        let first: WebDriver
        do {
            first = try await launch(arguments: [])
        } catch {
            await BrowserSlots.shared.release(2)
            throw error
        }
        do {
            return (first, try await launch(arguments: []))
        } catch {
            first.stop()
            await BrowserSlots.shared.release(1)
            throw error
        }
    }

    private static func launch(arguments: [String]) async throws -> WebDriver {
        let driverPath = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let browserPath = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let driverPath else { throw Failure.missing("chromedriver") }
        guard let browserPath else { throw Failure.missing("chromium") }
        let port = try LoopbackPort.free()
        let process = try ChildProcess(driverPath, arguments: ["--port=\(port)"])
        let driver = WebDriver(process: process, base: URL(string: "http://127.0.0.1:\(port)")!)
        let deadline = ContinuousClock.now + .seconds(20)
        while true {
            do {
                _ = try await driver.call("GET", "/status")
                break
            } catch {
                guard ContinuousClock.now < deadline else {
                    driver.stop()
                    throw Failure.command("/status", "chromedriver did not start: \(error)")
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let created = try await driver.call("POST", "/session", [
            "capabilities": ["alwaysMatch": [
                "browserName": "chrome",
                "goog:chromeOptions": [
                    "binary": browserPath,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"] + arguments,
                ],
            ]],
        ])
        guard let id = (created as? [String: Any])?["sessionId"] as? String else {
            driver.stop()
            throw Failure.command("/session", "no session id in \(String(describing: created))")
        }
        driver.session = id
        return driver
    }

    func navigate(_ url: String) async throws {
        _ = try await call("POST", "/session/\(session)/url", ["url": url])
    }

    /// Forgets every cookie the browser holds: the next page is a new visitor.
    func deleteCookies() async throws {
        _ = try await call("DELETE", "/session/\(session)/cookie")
    }

    /// Runs `script` in the page (`return …` gives a value).
    func execute(_ script: String) async throws -> Any? {
        try await call("POST", "/session/\(session)/execute/sync", ["script": script, "args": [Any]()])
    }

    /// The element `selector` finds (CSS), as the driver names it.
    private func element(_ selector: String) async throws -> String {
        let found = try await call("POST", "/session/\(session)/element", ["using": "css selector", "value": selector])
        guard let id = (found as? [String: Any])?.first(where: { $0.key.hasPrefix("element-") })?.value as? String else {
            throw Failure.command("/element", "no element id for \(selector) in \(String(describing: found))")
        }
        return id
    }

    /// Types `text` into the element, key by key, as a person would.
    func type(_ text: String, into selector: String) async throws {
        let id = try await element(selector)
        _ = try await call("POST", "/session/\(session)/element/\(id)/value", ["text": text])
    }

    /// Clicks the element as a person would (it must be visible).
    func click(_ selector: String) async throws {
        let id = try await element(selector)
        _ = try await call("POST", "/session/\(session)/element/\(id)/click", [:])
    }

    func setWindowSize(width: Int, height: Int) async throws {
        _ = try await call("POST", "/session/\(session)/window/rect", ["width": width, "height": height])
    }

    /// The page as a PNG.
    func screenshot() async throws -> Data {
        guard let encoded = try await call("GET", "/session/\(session)/screenshot") as? String, let png = Data(base64Encoded: encoded) else {
            throw Failure.command("/screenshot", "no PNG in the answer")
        }
        return png
    }

    /// Ends the session and chromedriver.
    func stop() {
        guard !released else { return }
        released = true
        let (session, port, process) = (session, base.port!, process)
        self.session = ""
        // Ending the session waits for Chromium to exit, seconds on a busy
        // machine: done on a Dispatch thread, never on Swift's cooperative
        // pool, which the server's HTTP ports answer on. The browser's slot
        // is freed once it is gone.
        DispatchQueue.global().async {
            if !session.isEmpty {
                _ = try? Self.exchange(port: port, method: "DELETE", path: "/session/\(session)", body: Data())
            }
            // Not waitUntilExit: on Linux it spins a run loop at full CPU.
            process.signal(SIGTERM)
            for _ in 0..<100 where process.isRunning { usleep(20_000) }
            if process.isRunning { process.signal(SIGKILL) }
            process.wait()
            Task { await BrowserSlots.shared.release(1) }
        }
    }

    /// One command: its `value`, or the driver's error. Spoken over a plain
    /// socket: chromedriver writes `Content-Length:249` (no space), which
    /// Foundation's URLSession on Linux refuses as "Failed writing header".
    private func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        let port = base.port!
        let (status, data) = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(Int, Data), any Error>) in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try Self.exchange(port: port, method: method, path: path, body: payload) })
            }
        }
        guard status == 200 else { throw Failure.command(path, String(decoding: data, as: UTF8.self)) }
        return (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["value"]
    }

    /// One HTTP/1.1 request and its response, read up to its Content-Length.
    private static func exchange(port: Int, method: String, path: String, body: Data) throws -> (Int, Data) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { throw Failure.command(path, "connect: errno \(errno)") }
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var request = Data("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8)
        request.append(body)
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == request.count else { throw Failure.command(path, "send: errno \(errno)") }
        var response = Data()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(fd, &chunk, chunk.count, 0)
            guard count > 0 else { break }
            response.append(contentsOf: chunk[0..<count])
            guard let end = response.range(of: Data("\r\n\r\n".utf8)) else { continue }
            let head = String(decoding: response[..<end.lowerBound], as: UTF8.self)
            let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
            if let length, response.count - end.upperBound >= length {
                let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
                return (status, response[end.upperBound..<end.upperBound + length])
            }
        }
        throw Failure.command(path, "the response ended early")
    }
}

/// How many Chromium sessions the tests run at once.
actor BrowserSlots {
    static let shared = BrowserSlots()
    static let max = 2

    private var free = max
    private var waiting: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

    func acquire(_ count: Int) async {
        if free >= count {
            free -= count
            return
        }
        await withCheckedContinuation { waiting.append((count, $0)) }
    }

    func release(_ count: Int) {
        free += count
        while let index = waiting.firstIndex(where: { $0.count <= free }) {
            let waiter = waiting.remove(at: index)
            free -= waiter.count
            waiter.continuation.resume()
        }
    }
}
