import StitchBeacon
import StitchIdentity
import StitchWire
import Testing

/// The site's rules as a server would hold them: the standard junk list plus
/// the site's own office number, which must never become an identifier.
struct OfficeRules: SiteJunkRules {
    var junkGeneration: UInt64 { 1 }
    func junkRules(site: UInt32) -> JunkRules {
        var rules = JunkRules.standard
        rules.phones = ["+74950000002"]
        return rules
    }
}

/// The deal directory the graph keeps, reduced to its contract: one deal known.
struct OneDeal: DealDirectory {
    func dealContact(site: UInt32, dealKey: String) -> NormalizedIdentifier? {
        site == 1 && dealKey == "amocrm:7001" ? NormalizedIdentifier(uncheckedKind: .crmContact, value: "amocrm:501") : nil
    }
}

/// `EventPreparer`: what the writer is handed for a beacon — identifiers
/// normalized, derived from the body, de-duplicated and refused with reasons;
/// the call-tracking and deal facts; the stored body.
@Suite("Event preparation")
struct EventPreparerTests {
    static func identifier(_ kind: Stitch_V1_IdentifierKind, _ value: String, _ namespace: String = "") -> Stitch_V1_Identifier {
        .with {
            $0.kind = kind
            $0.value = value
            $0.namespace = namespace
        }
    }

    @Test("a form's phone and e-mail become identifiers, normalized, without repeats; junk and office numbers are refused by field")
    func formIdentifiers() {
        var preparer = EventPreparer(rules: OfficeRules())
        let beacon = Stitch_V1_Beacon.with {
            $0.site = 1
            $0.timeMs = 1_767_225_600_000
            $0.eventID = 42
            $0.identifiers = [Self.identifier(.cookie, "ck-7f3a9b2c"), Self.identifier(.phone, "+7 916 555-01-02"), Self.identifier(.cookie, "undefined")]
            $0.form = .with {
                $0.phone = "8 (916) 555-01-02"  // the same phone again
                $0.email = "  Ivan@Mail.RU "
                $0.name = "Иван"
            }
        }
        let event = preparer.prepare(beacon, receivedMs: 1_767_225_601_000)
        #expect(event.identifiers.map { "\($0.kind.name)=\($0.value)" } == ["cookie=ck-7f3a9b2c", "phone=+79165550102", "email=ivan@mail.ru"])
        #expect(event.refused.map(\.reason.code) == ["junk"])
        #expect(event.eventID == 42 && event.type == .form && event.receivedMs == 1_767_225_601_000)

        var office = beacon
        office.identifiers = [Self.identifier(.cookie, "ck-7f3a9b2c")]
        office.form.phone = "+7 (495) 000-00-02"
        office.form.email = ""
        let refused = preparer.prepare(office, receivedMs: 0)
        #expect(refused.identifiers.map(\.value) == ["ck-7f3a9b2c"], "the site's own number links nobody")
        #expect(refused.refused.count == 1)
    }

    @Test("a call carries its tracking number in E.164, its start, and where its caller's phone is")
    func callFacts() {
        var preparer = EventPreparer(rules: OfficeRules())
        let event = preparer.prepare(.with {
            $0.site = 1
            $0.timeMs = 1_767_225_600_000
            $0.call = .with {
                $0.callID = "call-1"
                $0.callerPhone = "8 916 555 01 02"
                $0.trackingNumber = "+7 (495) 100-00-01"
                $0.startedAtMs = 1_767_225_590_000
            }
        }, receivedMs: 0)
        #expect(event.trackingNumber == "+74951000001")
        #expect(event.callStartMs == 1_767_225_590_000)
        let caller = try? #require(event.callerPhoneIndex)
        #expect(caller.map { event.identifiers[$0].value } == "+79165550102")
    }

    @Test("a deal that names no contact is given the one its deal was last seen with; an unknown deal gets none")
    func dealContact() {
        var preparer = EventPreparer(rules: OfficeRules(), deals: OneDeal())
        func deal(_ id: String) -> Stitch_V1_Beacon {
            .with {
                $0.site = 1
                $0.timeMs = 1_767_225_600_000
                $0.deal = .with {
                    $0.crm = "amocrm"
                    $0.dealID = id
                    $0.status = .won
                }
            }
        }
        let known = preparer.prepare(deal("7001"), receivedMs: 0)
        #expect(known.dealKey == "amocrm:7001")
        #expect(known.dealContactIndex.map { known.identifiers[$0].value } == "amocrm:501")
        let unknown = preparer.prepare(deal("7002"), receivedMs: 0)
        #expect(unknown.dealKey == "amocrm:7002" && unknown.dealContactIndex == nil && unknown.identifiers.isEmpty)
    }

    @Test("the stored body leaves the raw identifiers out; reading it back puts the normalized ones in")
    func storedBody() {
        var preparer = EventPreparer(rules: OfficeRules())
        let beacon = Stitch_V1_Beacon.with {
            $0.site = 3
            $0.timeMs = 1_767_225_600_000
            $0.identifiers = [Self.identifier(.email, "  Ivan@Mail.RU ")]
            $0.hit = .with { $0.url = "https://shop.example/" }
        }
        let event = preparer.prepare(beacon, receivedMs: 0)
        let stored = StoredBeacon.decode(event.body, identifiers: event.identifiers, seq: 1)
        #expect(stored.identifiers == [Self.identifier(.email, "ivan@mail.ru")])
        #expect(stored.hit.url == "https://shop.example/" && stored.site == 3 && stored.timeMs == beacon.timeMs)
        #expect(!event.body.isEmpty && event.body.count < (try! beacon.serializedBytes() as [UInt8]).count)
    }
}
