import StitchGraph
import StitchIdentity
import StitchWire
import Testing

@Suite("Explain: the chain that links two identifiers, or why none does")
struct ExplainTests {
    static let normalizer = IdentifierNormalizer(junk: .standard)

    static func id(_ kind: IdentifierKind, _ value: String, namespace: String? = nil) throws -> NormalizedIdentifier {
        try normalizer.normalize(kind, value, namespace: namespace)
    }

    @Test func aThreeStepChainThroughAFormACallAndAChat() throws {
        let test = try TestGraph(callTracking: try Calls.tracking())
        let t0 = Calls.t0, minute = Calls.minute
        var chat = Beacons.hit(time: t0 + 13 * minute, [(.session, "session-2")])
        chat.chat = .with {
            $0.provider = "jivo"
            $0.chatID = "chat-0000077"
        }
        try test.apply([
            Beacons.hit(time: t0, [(.cookie, "cookie-1"), (.session, "session-1")]),
            Beacons.form(time: t0 + minute, cookie: "cookie-1", phone: "+7 916 000-00-01"),
            Calls.shown(session: "session-2", cookie: "cookie-2", at: t0 + 10 * minute),
            Calls.call(from: "8 916 000 00 01", at: t0 + 12 * minute),
            chat,
        ])
        let answer = try test.graph.explain(
            site: 1, a: try Self.id(.cookie, "cookie-1"), b: try Self.id(.chat, "chat-0000077", namespace: "jivo"))
        #expect(answer.verdict == .linked)
        #expect(answer.personA == answer.personB)
        #expect(answer.steps.map(\.eventType) == [.form, .call, .chat])
        #expect(answer.steps.map(\.from.identifier.value) == ["cookie-1", "+79160000001", "session-2"])
        #expect(answer.steps.map(\.to.identifier.value) == ["+79160000001", "session-2", "jivo:chat-0000077"])
        #expect(answer.steps[1].via == "call matched by the lease of +74951000001")
        #expect(answer.steps[0].via == "same event")
    }

    @Test func aGuardsRefusalIsNamed() throws {
        let guards = Guards(capsByKind: [.phone: 1], identifiersMax: 100)
        let test = try TestGraph(configuration: GraphConfiguration(defaultRules: SiteRules(guards: guards)))
        try test.apply([
            Beacons.form(time: 1_000, cookie: "cookie-x", phone: "+79160000001"),
            Beacons.form(time: 2_000, cookie: "cookie-x", phone: "+79160000002"),
        ])
        let answer = try test.graph.explain(
            site: 1, a: try Self.id(.phone, "+79160000001"), b: try Self.id(.phone, "+79160000002"))
        #expect(answer.verdict == .refused)
        #expect(answer.refusal?.reason == ConflictReason.cap(.phone).description)
        #expect(answer.refusal?.timeMs == 2_000)
        #expect(answer.personA != answer.personB)
    }

    @Test func strangersAndUnknowns() throws {
        let test = try TestGraph()
        try test.apply([
            Beacons.hit(time: 1_000, [(.cookie, "cookie-a")]),
            Beacons.hit(time: 2_000, [(.cookie, "cookie-b")]),
        ])
        let apart = try test.graph.explain(site: 1, a: try Self.id(.cookie, "cookie-a"), b: try Self.id(.cookie, "cookie-b"))
        #expect(apart.verdict == .notLinked)
        #expect(apart.steps.isEmpty)
        let unknown = try test.graph.explain(site: 1, a: try Self.id(.cookie, "cookie-a"), b: try Self.id(.cookie, "cookie-zzz"))
        #expect(unknown.verdict == .unknown)
        let same = try test.graph.explain(site: 1, a: try Self.id(.cookie, "cookie-a"), b: try Self.id(.cookie, "cookie-a"))
        #expect(same.verdict == .linked)
        #expect(same.steps.isEmpty)
    }
}
