import StitchIdentity
import StitchStore

/// Checks every invariant of a stored graph (`stitch verify`). It reads the
/// whole store in one read transaction, so it sees one consistent snapshot
/// even beside a running writer.
public struct GraphVerifier {
    /// What was checked, and what was wrong.
    public struct Report: Sendable {
        /// Each check with how many items it covered, in the order run.
        public var checks: [(name: String, count: Int)] = []
        /// Every violation found, naming the item; empty for a sound store.
        public var violations: [String] = []
        /// Whether no invariant is broken.
        public var isSound: Bool { violations.isEmpty }
    }

    let graph: IdentityGraph

    public init(graph: IdentityGraph) {
        self.graph = graph
    }

    /// Runs every check on one snapshot of the store.
    public func verify() throws -> Report {
        try graph.environment.read { txn in
            var run = Run(graph: graph)
            try run.loadNodes(txn)
            run.checkForest()
            run.checkRings()
            try run.checkIdents(txn)
            try run.checkEvents(txn)
            try run.checkChanges(txn)
            try run.checkQuarantines(txn)
            try run.checkErasures(txn)
            try run.checkConflicts(txn)
            try run.checkLeases(txn)
            try run.checkWaitingCalls(txn)
            try run.checkDedup(txn)
            try run.checkDeals(txn)
            try run.checkCounters(txn)
            return run.report
        }
    }

    private struct Run {
        let graph: IdentityGraph
        var report = Report()
        var nodes: [UInt64: NodeRecord] = [:]
        var roots: [UInt64: UInt64] = [:]  // node → root
        var violationCount = 0

        mutating func violation(_ text: String) {
            violationCount += 1
            if report.violations.count < GraphLimits.violationsListedMax { report.violations.append(text) }
        }

        mutating func loadNodes(_ txn: borrowing Transaction) throws {
            try txn.scan(graph.tables.node) { key, value in
                nodes[ByteCoding.bigEndian(key, at: 0, as: UInt64.self)] = NodeRecord(copying: value)
                return true
            }
            report.checks.append(("nodes read", nodes.count))
        }

        /// Every parent chain ends at a root without a cycle, within one site.
        mutating func checkForest() {
            for (id, record) in nodes {
                var current = id, steps = 0
                while let parent = nodes[current]?.parent, parent != current {
                    guard nodes[parent] != nil else {
                        violation("node \(current): parent \(parent) does not exist")
                        break
                    }
                    if nodes[parent]!.site != record.site { violation("node \(current): parent \(parent) is in another site") }
                    current = parent
                    steps += 1
                    if steps > nodes.count {
                        violation("node \(id): parent chain has a cycle")
                        break
                    }
                }
                roots[id] = current
            }
            report.checks.append(("parent chains end at a root", nodes.count))
        }

        /// Each root's ring holds exactly its members, and its size and
        /// per-kind counts match them.
        mutating func checkRings() {
            var membersByRoot: [UInt64: [UInt64]] = [:]
            for (id, root) in roots { membersByRoot[root, default: []].append(id) }
            for (root, members) in membersByRoot {
                var ring: Set<UInt64> = [root]
                var current = nodes[root]!.next
                while current != root {
                    guard ring.insert(current).inserted, nodes[current] != nil, ring.count <= nodes.count else {
                        violation("person \(root): ring does not close through existing nodes")
                        break
                    }
                    current = nodes[current]!.next
                }
                if ring != Set(members) {
                    violation("person \(root): ring has \(ring.count) nodes, the forest \(members.count)")
                }
                let rootRecord = nodes[root]!
                if rootRecord.isErased && members.count != 1 { violation("erased node \(root) has members") }
                if !rootRecord.isErased && rootRecord.size != UInt64(members.count) {
                    violation("person \(root): size \(rootRecord.size), members \(members.count)")
                }
                for kind in IdentifierKind.allCases {
                    let actual = members.filter { nodes[$0]?.kind == kind && nodes[$0]?.isErased == false }.count
                    if rootRecord.kindCount(kind) != UInt32(actual) {
                        violation("person \(root): \(kind.name) count \(rootRecord.kindCount(kind)), members hold \(actual)")
                    }
                }
            }
            report.checks.append(("rings and sizes of persons", membersByRoot.count))
        }

        /// Every `ident` entry maps to a node that maps back, and every node
        /// has its `ident` entry.
        mutating func checkIdents(_ txn: borrowing Transaction) throws {
            var mapped: Set<UInt64> = []
            var count = 0
            try txn.scan(graph.tables.ident) { key, value in
                count += 1
                let id = ByteCoding.littleEndian(value, at: 0, as: UInt64.self)
                let site = ByteCoding.bigEndian(key, at: 0, as: UInt32.self)
                if let record = nodes[id] {
                    if record.isErased { violation("erased node \(id) still has an ident entry") }
                    if record.site != site || record.kind.rawValue != key[4] || !record.value.elementsEqual(key[5...]) {
                        violation("ident entry for node \(id) does not match the node's site, kind and value")
                    }
                    if !mapped.insert(id).inserted { violation("node \(id) has two ident entries") }
                } else {
                    violation("ident entry points to missing node \(id)")
                }
                return true
            }
            for (id, record) in nodes where !mapped.contains(id) && !record.isErased {
                violation("node \(id) has no ident entry")
            }
            report.checks.append(("identifiers map to nodes and back", count))
        }

        /// Every event's anchor exists, and its stored type byte is known.
        mutating func checkEvents(_ txn: borrowing Transaction) throws {
            var count = 0
            var anchoredByNode: [UInt64: UInt64] = [:]
            try txn.scan(graph.tables.event) { key, value in
                count += 1
                let (anchor, time, seq) = StoreKeys.decodeEventKey(key)
                if anchor != 0 && nodes[anchor] == nil { violation("event \(seq): anchor \(anchor) does not exist") }
                if value.count != 1 || EventType(rawValue: Int(value[0])) == nil { violation("event \(seq): unknown type") }
                if let stored = try txn.get(graph.tables.log, StoreKeys.logKey(seq)) {
                    if stored.first != value.first { violation("event \(seq): index and log disagree on its type") }
                    if StoredEvent.timeMs(of: stored) != time { violation("event \(seq): index and log disagree on its time") }
                } else {
                    violation("event \(seq): indexed but missing from the log")
                }
                anchoredByNode[anchor, default: 0] += 1
                return true
            }
            // A node's stored counts are of its entries in `event`; the
            // write-behind's entries are counted when they are written there.
            for (id, record) in nodes where record.anchoredEvents != anchoredByNode[id, default: 0] {
                violation("node \(id): counts \(record.anchoredEvents) anchored events, the table holds \(anchoredByNode[id, default: 0])")
            }
            let overlay = try IndexOverlay.load(meta: graph.tables.meta, journal: graph.tables.eventJournal, txn)
            for entry in overlay.frozen[..<overlay.state.drained]
            where try txn.get(graph.tables.event, StoreKeys.eventKey(anchor: entry.anchor, timeMs: entry.timeMs, seq: entry.seq)) == nil {
                violation("event \(entry.seq): written out by the write-behind, but not in the index")
            }
            for entry in overlay.undrained() {
                count += 1
                if entry.anchor == 0 || nodes[entry.anchor] == nil { violation("deferred event \(entry.seq): anchor \(entry.anchor) does not exist") }
                if try txn.get(graph.tables.event, StoreKeys.eventKey(anchor: entry.anchor, timeMs: entry.timeMs, seq: entry.seq)) != nil {
                    violation("deferred event \(entry.seq): in the index already")
                }
                if let stored = try txn.get(graph.tables.log, StoreKeys.logKey(entry.seq)) {
                    if stored.first != entry.type { violation("deferred event \(entry.seq): journal and log disagree on its type") }
                    if StoredEvent.timeMs(of: stored) != entry.timeMs { violation("deferred event \(entry.seq): journal and log disagree on its time") }
                } else {
                    violation("deferred event \(entry.seq): journaled but missing from the log")
                }
            }
            let logged = try txn.count(graph.tables.log)
            if logged != count { violation("the log holds \(logged) events, the index and the write-behind \(count)") }
            report.checks.append(("events have existing anchors and log records", count))
        }

        /// Every change names existing nodes; a merge has the older person
        /// winning; a split's parts are younger than the person they left.
        /// (Later changes may undo earlier ones, so the log is not replayed
        /// against the forest; the counters check covers the totals.)
        mutating func checkChanges(_ txn: borrowing Transaction) throws {
            var count = 0
            try txn.scan(graph.tables.change) { key, value in
                count += 1
                let change = ChangeRecord(seq: ByteCoding.bigEndian(key, at: 0, as: UInt64.self), decoding: value)
                if nodes[change.winner] == nil { violation("change \(change.seq): person \(change.winner) does not exist") }
                switch change.kind {
                case .merge:
                    if change.winner >= change.loser { violation("merge \(change.seq): winner \(change.winner) is not older than \(change.loser)") }
                case .split:
                    if change.parts.isEmpty || change.parts.contains(where: { $0 <= change.winner || nodes[$0] == nil }) {
                        violation("split \(change.seq): parts \(change.parts) are not younger nodes than \(change.winner)")
                    }
                case .erase:
                    if nodes[change.winner]?.isErased != true { violation("erasure \(change.seq): person \(change.winner) is not erased") }
                }
                return true
            }
            report.checks.append(("changes name existing persons", count))
        }

        /// Quarantined identifiers are persons of their own with a record,
        /// and the events listed as carrying one are stored. A first owner's
        /// era (`ownerBeforeMs`) belongs only to a device the shared-device
        /// rule quarantined.
        mutating func checkQuarantines(_ txn: borrowing Transaction) throws {
            var recorded: Set<UInt64> = []
            var owners: [(node: UInt64, record: QuarantineRecord)] = []
            try txn.scan(graph.tables.quarantine) { key, value in
                let node = ByteCoding.bigEndian(key, at: 0, as: UInt64.self)
                recorded.insert(node)
                let record = QuarantineRecord(decoding: value)
                if record.ownerBeforeMs != 0 { owners.append((node, record)) }
                return true
            }
            for (node, record) in owners {
                if record.source != .automatic || nodes[node]?.kind.isDevice != true {
                    violation("quarantine of node \(node) keeps a first owner's era but is not a shared device's")
                }
            }
            for (id, record) in nodes where record.isQuarantined {
                if !recorded.contains(id) { violation("node \(id) is quarantined without a record") }
                if record.parent != id || record.next != id { violation("quarantined node \(id) is not a person of its own") }
            }
            for id in recorded where nodes[id]?.isQuarantined != true { violation("quarantine record of node \(id), which is not quarantined") }
            var listed = 0
            try txn.scan(graph.tables.quarantineEvent) { key, _ in
                listed += 1
                let node = ByteCoding.bigEndian(key, at: 0, as: UInt64.self), seq = ByteCoding.bigEndian(key, at: 8, as: UInt64.self)
                if nodes[node]?.isQuarantined != true { violation("event \(seq) listed under node \(node), which is not quarantined") }
                if try txn.get(graph.tables.log, StoreKeys.logKey(seq)) == nil { violation("event \(seq) listed under quarantined node \(node) is not stored") }
                return true
            }
            report.checks.append(("quarantined identifiers stand alone", recorded.count + listed))
        }

        /// Erased nodes keep no value; the suppression list and the erasure
        /// log match the counters.
        mutating func checkErasures(_ txn: borrowing Transaction) throws {
            let erased = nodes.filter { $0.value.isErased }
            for (id, record) in erased where !record.value.isEmpty { violation("erased node \(id) keeps a value") }
            let counters = try graph.counters(txn)
            let suppressed = try txn.count(graph.tables.suppress)
            if counters.suppressions != UInt64(suppressed) { violation("counters: \(counters.suppressions) suppressions, the list holds \(suppressed)") }
            let erasures = try txn.count(graph.tables.erasure)
            if counters.nextErasure != UInt64(erasures) + 1 { violation("counters: next erasure \(counters.nextErasure), the log holds \(erasures)") }
            report.checks.append(("erased identifiers keep no value", erased.count))
        }

        /// Each conflict is listed under both its persons' nodes in
        /// `nconflict`, and every entry there names a conflict that names
        /// that node.
        mutating func checkConflicts(_ txn: borrowing Transaction) throws {
            var expected: Set<ByteKey> = []
            var count = 0
            try txn.scan(graph.tables.conflict) { key, value in
                let conflict = ConflictRecord(seq: ByteCoding.bigEndian(key, at: 0, as: UInt64.self), decoding: value)
                for entry in conflict.indexKeys { expected.insert(ByteKey(bytes: entry)) }
                count += 1
                return true
            }
            try txn.scan(graph.tables.conflictByNode) { key, _ in
                if expected.remove(ByteKey(bytes: Array(key))) == nil {
                    violation("nconflict lists conflict \(ByteCoding.bigEndian(key, at: 8, as: UInt64.self)) under node \(ByteCoding.bigEndian(key, at: 0, as: UInt64.self)), which it does not name")
                }
                return true
            }
            for missing in expected.prefix(5) {
                missing.bytes.withUnsafeBytes {
                    violation("conflict \(ByteCoding.bigEndian($0, at: 8, as: UInt64.self)) is not listed under node \(ByteCoding.bigEndian($0, at: 0, as: UInt64.self))")
                }
            }
            report.checks.append(("conflicts recorded, each listed under both persons", count))
        }

        /// Each session's current lease is listed under its number with the
        /// same end, and the session is a node of the lease's site.
        mutating func checkLeases(_ txn: borrowing Transaction) throws {
            var count = 0
            try txn.scan(graph.tables.lease) { key, value in
                count += 1
                let session = ByteCoding.bigEndian(key, at: 0, as: UInt64.self)
                let lease = LeaseRecord(decoding: value)
                if nodes[session]?.kind != .session || nodes[session]?.site != lease.site {
                    violation("lease of node \(session): not a session of site \(lease.site)")
                }
                let numberKey = StoreKeys.numberKey(
                    StoreKeys.numberPrefix(site: lease.site, number: lease.number), timeMs: lease.startMs, session)
                let end = try txn.get(graph.tables.leaseNumber, numberKey).map {
                    ByteCoding.littleEndian($0, at: 0, as: Int64.self)
                }
                if end != lease.endMs {
                    violation("lease of session \(session) on \(lease.number): ends \(lease.endMs), listed \(end.map(String.init) ?? "nowhere")")
                }
                return true
            }
            report.checks.append(("leases listed under their numbers", count))
        }

        /// Every remembered event id names the stored event of its seq, which
        /// has that id and arrived no later than its entry's arrival, itself
        /// no later than the arrival clock; the table holds no other keys or
        /// values; a
        /// writable graph's in-memory index (`DedupMemory`) says exactly what
        /// the table says. How many ids have left the window and wait for
        /// pruning is reported.
        mutating func checkDedup(_ txn: borrowing Transaction) throws {
            var ids = 0
            var stale = 0
            var latest: [DedupID: Int64] = [:]
            let counters = try graph.counters(txn)
            let horizon = counters.dedupHorizonMs(windowMs: graph.configuration.dedupWindowMs)
            try txn.scan(graph.tables.dedup) { key, value in
                guard StoreKeys.isDedupKey(key) else {
                    violation("dedup holds a key of \(key.count) bytes that is not of schema \(IdentityGraph.schemaVersion)")
                    return true
                }
                let (arrivalMs, firstSeq) = StoreKeys.decodeDedupKey(key)
                guard StoreKeys.isDedupValue(value) else {
                    violation("dedup entry at arrival \(arrivalMs), seq \(firstSeq): a value of \(value.count) bytes")
                    return true
                }
                if arrivalMs > counters.arrivalClockMs {
                    violation("dedup entry at seq \(firstSeq): arrived at \(arrivalMs), after the arrival clock \(counters.arrivalClockMs)")
                }
                try StoreKeys.forEachDedupRecord(value, firstSeq: firstSeq) { id, seq in
                    ids += 1
                    if arrivalMs < horizon { stale += 1 }
                    latest[id] = max(latest[id] ?? .min, arrivalMs)
                    if let stored = try txn.get(graph.tables.log, StoreKeys.logKey(seq)) {
                        if StoredEvent.eventID(of: stored) != id.eventID || StoredEvent.receivedMs(of: stored) > arrivalMs {
                            violation("event id \(id.eventID) of site \(id.site): remembered as event \(seq) arrived at \(arrivalMs), which is another event")
                        }
                    } else {
                        violation("event id \(id.eventID) of site \(id.site): remembered as event \(seq), which is not stored")
                    }
                }
                return true
            }
            report.checks.append(("remembered event ids name stored events", ids))
            if !graph.isReadOnly, graph.dedupMemory.snapshot() != latest {
                violation("the in-memory index of remembered event ids differs from the dedup table (\(graph.dedupMemory.count) ids in memory, \(latest.count) in the table)")
            }
            // Not a violation: pruning forgets a bounded number per commit.
            report.checks.append(("remembered event ids past the window, awaiting pruning", stale))
        }

        /// Every call waiting for a lease is a stored call recorded as unknown.
        /// Each deal names a known contact of its site, and is listed under
        /// that contact (so an erasure finds it); nothing else is listed.
        mutating func checkDeals(_ txn: borrowing Transaction) throws {
            var deals = 0, listed = 0
            try txn.scan(graph.tables.deal) { key, value in
                let site = ByteCoding.bigEndian(key, at: 1, as: UInt32.self)
                switch key.first {
                case UInt8(ascii: "d"):
                    deals += 1
                    let dealKey = key[5...]
                    if try txn.get(graph.tables.deal, StoreKeys.dealContactKey(site: site, contact: value, dealKey: dealKey)) == nil { violation("deal \(String(decoding: dealKey, as: UTF8.self)) of site \(site) is not listed under its contact") }
                    var ident: [UInt8] = []
                    StoreKeys.identKey(site: site, kind: .crmContact, value: value, into: &ident)
                    if try txn.get(graph.tables.ident, ident) == nil { violation("deal \(String(decoding: dealKey, as: UTF8.self)) of site \(site) names an unknown contact") }
                case UInt8(ascii: "c"):
                    listed += 1
                    let rest = key[5...]
                    guard let zero = rest.firstIndex(of: 0) else {
                        violation("a deal listing of site \(site) without its separator")
                        return true
                    }
                    let dealEntry = try txn.get(graph.tables.deal, StoreKeys.dealKey(site: site, dealKey: rest[(zero + 1)...]))
                    if dealEntry.map({ !$0.elementsEqual(rest[..<zero]) }) ?? true { violation("a deal listed under a contact of site \(site) names another or none") }
                default:
                    violation("a deal entry of unknown family \(key.first ?? 0)")
                }
                return true
            }
            if deals != listed { violation("\(deals) deals but \(listed) listed under contacts") }
            report.checks.append(("deals know their contact", deals))
        }

        mutating func checkWaitingCalls(_ txn: borrowing Transaction) throws {
            var count = 0
            try txn.scan(graph.tables.callWait) { key, _ in
                count += 1
                let seq = ByteCoding.bigEndian(key, at: key.count - 8, as: UInt64.self)
                let match = try graph.callMatch(seq: seq, txn)
                if match?.kind != .unknown { violation("waiting call \(seq) is recorded as \(match.map { "\($0.kind)" } ?? "nothing")") }
                return true
            }
            report.checks.append(("waiting calls are unknown traffic", count))
        }

        /// The counters agree with the tables.
        mutating func checkCounters(_ txn: borrowing Transaction) throws {
            let counters = try graph.counters(txn)
            let maxNode = nodes.keys.max() ?? 0
            if counters.nextNode != maxNode + 1 || counters.identifiers != UInt64(nodes.count) {
                violation("counters: next node \(counters.nextNode), but \(nodes.count) nodes up to \(maxNode)")
            }
            let rootCount = UInt64(roots.filter { $0.key == $0.value && nodes[$0.key]?.isErased == false }.count)
            if counters.persons != rootCount { violation("counters: \(counters.persons) persons, the forest has \(rootCount)") }
            let overlay = try IndexOverlay.load(meta: graph.tables.meta, journal: graph.tables.eventJournal, txn)
            let events = try txn.count(graph.tables.event) + overlay.undrainedCount
            if counters.events != UInt64(events) {
                violation("counters: \(counters.events) events, the index and the write-behind hold \(events)")
            }
            let changes = try txn.count(graph.tables.change)
            if counters.changes != UInt64(changes) { violation("counters: \(counters.changes) changes, the log holds \(changes)") }
            let conflicts = try txn.count(graph.tables.conflict)
            if counters.conflicts != UInt64(conflicts) { violation("counters: \(counters.conflicts) conflicts, the log holds \(conflicts)") }
            report.checks.append(("counters match the tables", 5))
            if violationCount > report.violations.count {
                report.violations.append("… and \(violationCount - report.violations.count) more")
            }
        }
    }
}
