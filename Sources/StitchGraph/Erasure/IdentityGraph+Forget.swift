import StitchIdentity
import StitchStore

extension IdentityGraph {
    /// Erases the whole person holding an identifier (152-FZ / GDPR), in one
    /// write transaction: its identifiers (ident entries; nodes become
    /// value-less tombstones so old ids resolve to no one), its events and
    /// every event elsewhere that carried one of its identifiers (a link a
    /// guard refused, a quarantined identifier's events), their index, call
    /// and dedup entries, its leases. Each erased identifier is kept only as
    /// its keyed hash in the suppression list, so a later beacon carrying it
    /// is not stored. A durable erasure record and an `erase` change say what
    /// was erased, never the values.
    ///
    /// Freed pages still hold old bytes until LMDB reuses them; a compacting
    /// copy (`stitch backup --compact`) holds none of them.
    ///
    /// - Returns: the erasure record, or nil if the identifier is unknown.
    public func forget(site: UInt32, identifier: NormalizedIdentifier, nowMs: Int64) throws -> ErasureRecord? {
        try erasePerson(
            site: site, reason: .forget, suppress: true, requestedHash: hasher.hash(site: site, identifier: identifier), nowMs: nowMs,
            find: { txn in try identNode(site: site, identifier: identifier, txn) },
            accept: { _ in true })
    }

    /// The keyed hash an erasure record holds for `identifier` (HMAC-SHA256
    /// under the store's secret): what the audit log writes for an
    /// identifier an admin named, never its value.
    public func identifierHash(site: UInt32, identifier: NormalizedIdentifier) -> [UInt8] {
        hasher.hash(site: site, identifier: identifier)
    }

    /// The erasure both `forget` and `expire` make, in one write transaction.
    /// `find` names a node of the person (nil: nothing to erase); `accept`
    /// sees its members and may still decline. `requestedHash` nil: the
    /// hash of the person's root identifier.
    func erasePerson(
        site: UInt32, reason: ChangeRecord.Reason, suppress suppressing: Bool, requestedHash: [UInt8]?, nowMs: Int64,
        find: (borrowing Transaction) throws -> UInt64?, accept: ([UInt64: NodeRecord]) -> Bool
    ) throws -> ErasureRecord? {
        // The erased events' remembered ids, for `DedupMemory` after the commit.
        var forgottenIDs: [(id: DedupID, arrivalMs: Int64)] = []
        // The erased nodes, dropped from `leasedSessions` only once the erasure
        // has committed: dropped earlier, an aborted erasure would leave
        // sessions with leases the writer no longer refreshes.
        var erasedNodes: [UInt64] = []
        let record = try writeDraining { txn -> ErasureRecord? in
            forgottenIDs = []  // the closure runs again if the map had to grow
            erasedNodes = []
            guard let node = try find(txn) else { return nil }
            var counters = try counters(txn)
            let root = try root(of: node, txn)
            var members: [UInt64: NodeRecord] = [:]
            try forEachMember(ofRoot: root, txn) { id, record in
                guard members.count < GraphLimits.repairIdentifiersMax else {
                    throw GraphError.personTooLarge(personID: root, identifiersMax: GraphLimits.repairIdentifiersMax)
                }
                members[id] = record
            }
            guard accept(members) else { return nil }
            let requestedHash = requestedHash ?? hasher.hash(site: site, identifier: members[root]!.identifier)
            var identKeys: Set<ByteKey> = []
            var key: [UInt8] = []
            for record in members.values {
                StoreKeys.identKey(site: site, kind: record.kind, value: record.value, into: &key)
                identKeys.insert(ByteKey(bytes: key))
            }

            // Events to erase: those anchored in the person, and those
            // elsewhere that carried one of its identifiers.
            var anchored: [UInt64: UInt64] = [:]  // seq → anchor
            for id in members.keys {
                try forEachIndexedEvent(anchor: id, fromMs: .min, txn) { _, seq, _ in
                    anchored[seq] = id
                    return true
                }
            }
            var elsewhere: Set<UInt64> = []
            for id in members.keys {
                // The conflicts naming a member as either person.
                try forEachSeq(in: tables.conflictByNode, under: id, txn) { seq in
                    guard let stored = try txn.get(tables.conflict, StoreKeys.seqKey(seq)) else { return true }
                    elsewhere.insert(ConflictRecord(seq: seq, decoding: stored).causeEvent)
                    return true
                }
            }
            for id in members.keys where members[id]!.isQuarantined {
                try forEachSeq(in: tables.quarantineEvent, under: id, txn) { seq in
                    elsewhere.insert(seq)
                    return true
                }
            }
            var erasedEvents = 0, erasedCalls = 0
            var outsideAnchors: Set<UInt64> = []
            for seq in Set(anchored.keys).union(elsewhere).sorted() {
                guard let stored = try txn.get(tables.log, StoreKeys.logKey(seq)) else { continue }
                let event = try withCallMatch(StoredEvent.decode(stored, seq: seq), txn)
                let eventID = StoredEvent.eventID(of: stored)
                var eventNodes: [UInt64] = []
                var carries = false
                for identifier in event.identifiers {
                    StoreKeys.identKey(site: site, kind: identifier.kind, value: identifier.value.utf8, into: &key)
                    if identKeys.contains(ByteKey(bytes: key)) { carries = true }
                    if let other = try txn.get(tables.ident, key) { eventNodes.append(ByteCoding.littleEndian(other, at: 0, as: UInt64.self)) }
                }
                var anchor = anchored[seq]
                if anchor == nil {
                    guard carries else { continue }  // a conflict's cause that named other persons only
                    var candidates = eventNodes
                    if let session = event.callMatch?.session,
                        let node = try identNode(site: site, identifier: NormalizedIdentifier(uncheckedKind: .session, value: session), txn)
                    {
                        candidates.append(node)
                    }
                    anchor = try candidates.first { node in
                        try txn.get(tables.event, StoreKeys.eventKey(anchor: node, timeMs: event.timeMs, seq: seq)) != nil
                    }
                    // The anchor outside the person loses the event from its counts.
                    if let outside = anchor, members[outside] == nil {
                        outsideAnchors.insert(outside)
                        var record = try nodeRecord(outside, txn)
                        record.removeAnchored(event.type)
                        try txn.put(tables.node, StoreKeys.nodeKey(outside), record.bytes)
                    }
                }
                if let anchor {
                    _ = try txn.delete(tables.event, StoreKeys.eventKey(anchor: anchor, timeMs: event.timeMs, seq: seq))
                }
                _ = try txn.delete(tables.log, StoreKeys.logKey(seq))
                if eventID != 0 {
                    // The index knows the id's arrival, so the entry holding it.
                    let id = DedupID(site: site, eventID: eventID)
                    if let arrivalMs = dedupMemory.arrival(of: id),
                        try removeDedupRecord(id, seq: seq, arrivalMs: arrivalMs, txn)
                    {
                        forgottenIDs.append((id, arrivalMs))
                    }
                }
                for node in eventNodes { _ = try txn.delete(tables.quarantineEvent, StoreKeys.quarantineEventKey(node: node, seq: seq)) }
                if let match = event.callMatch {
                    _ = try txn.delete(tables.call, StoreKeys.seqKey(seq))
                    try deleteNumberEntries(tables.callWait, site: site, number: match.trackingNumber, txn) { $0 == seq }
                    erasedCalls += 1
                }
                erasedEvents += 1
            }

            // The identifiers: ident entries, leases, quarantines, nodes.
            var erasedLeases = 0
            for (id, record) in members {
                StoreKeys.identKey(site: site, kind: record.kind, value: record.value, into: &key)
                _ = try txn.delete(tables.ident, key)
                if record.kind == .crmContact { try forgetDeals(site: site, contact: record.value, txn) }
                if suppressing { try suppress(hash: hasher.hash(identKey: key), erasure: counters.nextErasure, &counters, txn) }
                if let lease = try txn.get(tables.lease, StoreKeys.nodeKey(id)).map({ LeaseRecord(decoding: $0) }) {
                    _ = try txn.delete(tables.lease, StoreKeys.nodeKey(id))
                    try deleteNumberEntries(tables.leaseNumber, site: site, number: lease.number, txn) { $0 == id }
                    erasedLeases += 1
                }
                _ = try txn.delete(tables.quarantine, StoreKeys.nodeKey(id))
                try forEachSeq(in: tables.quarantineEvent, under: id, txn) { seq in
                    _ = try txn.delete(tables.quarantineEvent, StoreKeys.quarantineEventKey(node: id, seq: seq))
                    return true
                }
                var tombstone = record
                tombstone.erase(id: id)
                try txn.put(tables.node, StoreKeys.nodeKey(id), tombstone.bytes)
            }
            erasedNodes = Array(members.keys)
            // A person elsewhere that lost an event may have lost the link it
            // made: re-derive it from what remains.
            var repaired: Set<UInt64> = []
            for anchor in outsideAnchors.sorted() {
                let other = try self.root(of: anchor, txn)
                guard repaired.insert(other).inserted else { continue }
                let repair = PersonRepair(graph: self, reason: reason, causeEvent: 0, identifierNode: node, nowMs: nowMs)
                _ = try repair.run(root: other, counters: &counters, txn)
            }

            let erasure = ErasureRecord(
                seq: counters.nextErasure, timeMs: nowMs, site: site, personID: root, identifiers: UInt64(members.count),
                events: UInt64(erasedEvents), leases: UInt64(erasedLeases), calls: UInt64(erasedCalls), identifierHash: requestedHash)
            try txn.put(tables.erasure, StoreKeys.seqKey(erasure.seq), erasure.encoded(), append: true)
            counters.nextErasure += 1
            let change = ChangeRecord(
                seq: counters.nextChange, kind: .erase, reason: reason, site: site, timeMs: nowMs, winner: root, identifierNode: node)
            try txn.put(tables.change, StoreKeys.seqKey(change.seq), change.encoded(), append: true)
            counters.nextChange += 1
            counters.persons -= 1
            counters.events -= UInt64(erasedEvents)
            try txn.put(tables.meta, GraphCounters.key, counters.encoded())
            return erasure
        }
        dedupMemory.forget(forgottenIDs)
        leasedSessions.withLock { sessions in for id in erasedNodes { sessions.remove(id) } }
        return record
    }

    /// Lists an erased identifier's keyed hash in the suppression list under
    /// erasure `erasure`; returns whether it is new there (then counted).
    @discardableResult
    func suppress(hash: [UInt8], erasure: UInt64, _ counters: inout GraphCounters, _ txn: borrowing Transaction) throws -> Bool {
        let isNew = try txn.get(tables.suppress, hash) == nil
        if isNew { counters.suppressions += 1 }
        var seqBytes: [UInt8] = []
        ByteCoding.appendLittleEndian(erasure, to: &seqBytes)
        try txn.put(tables.suppress, hash, seqBytes)
        return isNew
    }

    /// Erasures after `cursor`, oldest first.
    public func erasures(after cursor: UInt64, limit: Int) throws -> [ErasureRecord] {
        try environment.read { txn in
            var found: [ErasureRecord] = []
            try txn.scan(tables.erasure, from: StoreKeys.seqKey(cursor + 1)) { key, value in
                found.append(ErasureRecord(seq: ByteCoding.bigEndian(key, at: 0, as: UInt64.self), decoding: value))
                return found.count < limit
            }
            return found
        }
    }

    /// Deletes the `leasenum` or `callwait` entries of one number whose
    /// trailing id (session node or seq) `matches`.
    /// Removes event `seq`'s id from the `dedup` entry holding it: the
    /// entry of its arrival with the largest first seq not after `seq`. The
    /// entry is rewritten without it, or deleted when it held only that id.
    /// Returns whether the id was there.
    private func removeDedupRecord(_ id: DedupID, seq: UInt64, arrivalMs: Int64, _ txn: borrowing Transaction) throws -> Bool {
        let found: (key: [UInt8], rest: [UInt8])? = try txn.withCursor(tables.dedup) { cursor in
            var entry = try cursor.seek(atLeast: StoreKeys.dedupKey(arrivalMs: arrivalMs, seq: seq + 1))
            entry = entry == nil ? try cursor.last() : try cursor.previous()
            guard let (key, value) = entry, StoreKeys.isDedupKey(key), StoreKeys.decodeDedupKey(key).arrivalMs == arrivalMs
            else { return nil }
            let firstSeq = StoreKeys.decodeDedupKey(key).seq
            var rest: [UInt8] = []
            var held = false
            StoreKeys.forEachDedupRecord(value, firstSeq: firstSeq) { other, otherSeq in
                if other == id && otherSeq == seq {
                    held = true
                } else {
                    StoreKeys.appendDedupRecord(other, seq: otherSeq, firstSeq: firstSeq, to: &rest)
                }
            }
            return held ? (Array(key), rest) : nil
        }
        guard let found else { return false }
        if found.rest.isEmpty {
            _ = try txn.delete(tables.dedup, found.key)
        } else {
            // The key keeps its first seq even when that event is the one
            // erased: records are offsets from it, and order is unchanged.
            try txn.put(tables.dedup, found.key, found.rest)
        }
        return true
    }

    private func deleteNumberEntries(
        _ table: Table, site: UInt32, number: String, _ txn: borrowing Transaction, matches: (UInt64) -> Bool
    ) throws {
        let prefix = StoreKeys.numberPrefix(site: site, number: number)
        var doomed: [[UInt8]] = []
        try txn.scan(table, from: prefix) { key, _ in
            guard StoreKeys.hasNumberPrefix(key, prefix) else { return false }
            if matches(StoreKeys.decodeNumberKey(key, prefixCount: prefix.count).id) { doomed.append(Array(key)) }
            return true
        }
        for key in doomed { _ = try txn.delete(table, key) }
    }
}

extension BatchWriter {
    /// Whether an event names an erased identifier: then it is not stored.
    /// Only identifiers the store does not know are hashed (an erased one has
    /// no ident entry), and only while the suppression list is not empty.
    mutating func carriesSuppressedIdentifier(_ event: PreparedEvent, _ txn: borrowing Transaction) throws -> Bool {
        var key: [UInt8] = []
        for identifier in event.identifiers {
            StoreKeys.identKey(site: event.site, kind: identifier.kind, value: identifier.value.utf8, into: &key)
            if try txn.get(graph.tables.ident, key) != nil { continue }
            for hash in graph.hasher.hashesToTest(identKey: key) {
                if try txn.get(graph.tables.suppress, hash) != nil { return true }
            }
        }
        return false
    }
}
