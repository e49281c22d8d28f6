import StitchIdentity
import StitchStore

/// Call tracking inside the writer's transaction (DESIGN.md §5): leases by
/// event time, calls matched to the session whose lease covered them, and
/// calls no lease covered kept waiting until a late event makes one cover
/// them. Arrival order never matters: every path ends in the same links.
extension BatchWriter {
    mutating func pool(_ site: UInt32) -> NumberPool {
        if let cached = sitePools[site] { return cached }
        let pool = graph.callTracking.pool(site: site)
        sitePools[site] = pool
        return pool
    }

    /// `session` was shown `number` at `timeMs`: opens its lease, or widens it
    /// (a repeated or late `number_shown` of the same number). A `renewal`
    /// is told to the allocator as one (it holds the number, but is not the
    /// holder's activity).
    mutating func openLease(
        session: UInt64, site: UInt32, number: String, timeMs: Int64, renewal: Bool = false,
        _ txn: borrowing Transaction
    ) throws {
        let pool = pool(site)
        guard pool.role(of: number) == .dynamic else { return }
        let sessionKey = StoreKeys.nodeKey(session)
        let prefix = StoreKeys.numberPrefix(site: site, number: number)
        var lease = LeaseRecord(site: site, number: number, startMs: timeMs, endMs: timeMs + pool.holdMs)
        // Activity of the session applied before this (out of order) keeps
        // the new lease alive as it would have in order. The session's node
        // records its latest activity (`refreshLease` notes it while no lease
        // is held), in the store: the same on every replica and after a restart.
        let activeMs = try activityMs(session, txn)
        if activeMs >= timeMs {
            lease.endMs = max(lease.endMs, activeMs + pool.holdMs)
        }
        if let stored = try txn.get(graph.tables.lease, sessionKey) {
            let current = LeaseRecord(decoding: stored)
            if current.number == number && current.site == site {
                lease.startMs = min(current.startMs, timeMs)
                lease.endMs = max(current.endMs, lease.endMs)
                if lease == current { return }
                if lease.startMs != current.startMs {
                    _ = try txn.delete(
                        graph.tables.leaseNumber, StoreKeys.numberKey(prefix, timeMs: current.startMs, session))
                }
            } else if timeMs < current.startMs {
                // A late `number_shown` of a number shown before the current
                // one: that lease is recorded for matching; the current stays.
                try list(lease, prefix, session: session, txn)
                return
            }
        }
        graph.leasedSessions.withLock { _ = $0.insert(session) }
        try txn.put(graph.tables.lease, sessionKey, lease.encoded())
        try list(lease, prefix, session: session, txn)
        try noteActivity(session, lease, renewal: renewal, txn)
    }

    /// Lists a lease under its number and matches the calls waiting in it.
    private mutating func list(
        _ lease: LeaseRecord, _ prefix: [UInt8], session: UInt64, _ txn: borrowing Transaction
    ) throws {
        try txn.put(graph.tables.leaseNumber, StoreKeys.numberKey(prefix, timeMs: lease.startMs, session),
            Self.endBytes(lease.endMs))
        try matchWaiting(prefix, site: lease.site, from: lease.startMs, to: lease.endMs, session: session, txn)
    }

    /// Activity of `session` at `timeMs` keeps its lease alive until
    /// `timeMs + hold`; calls waiting in the newly covered time are matched.
    /// A `renewal` by an open page is told to the allocator as one, not as
    /// the holder's activity.
    mutating func refreshLease(
        session: UInt64, site: UInt32, timeMs: Int64, renewal: Bool = false, _ txn: borrowing Transaction
    ) throws {
        guard graph.leasedSessions.withLock({ $0.contains(session) }) else {
            // No lease yet: remember the activity on the session's node, so a
            // `number_shown` applied after it (another connection's batch)
            // opens a lease this activity keeps alive.
            if !pool(site).dynamicNumbers.isEmpty, try activityMs(session, txn) < timeMs {
                try updateNode(session, txn) { $0.lastSeenMs = timeMs }
            }
            return
        }
        let sessionKey = StoreKeys.nodeKey(session)
        guard let stored = try txn.get(graph.tables.lease, sessionKey) else { return }
        var lease = LeaseRecord(decoding: stored)
        let end = timeMs + pool(site).holdMs
        guard lease.site == site, timeMs >= lease.startMs, end > lease.endMs else { return }
        let previousEnd = lease.endMs
        lease.endMs = end
        let prefix = StoreKeys.numberPrefix(site: site, number: lease.number)
        try txn.put(graph.tables.lease, sessionKey, lease.encoded())
        try txn.put(graph.tables.leaseNumber, StoreKeys.numberKey(prefix, timeMs: lease.startMs, session),
            Self.endBytes(end))
        try matchWaiting(prefix, site: site, from: previousEnd + 1, to: end, session: session, txn)
        try noteActivity(session, lease, renewal: renewal, txn)
    }

    /// Places a call and records how (`call` table). Returns the session it
    /// was matched to, if any; the caller's phone is then linked to it.
    mutating func matchCall(
        _ event: PreparedEvent, seq: UInt64, number: String, callerPhone: UInt64?, _ txn: borrowing Transaction
    ) throws -> UInt64? {
        var match = CallMatch(kind: .unknown, trackingNumber: number)
        var matched: UInt64?
        switch pool(event.site).role(of: number) {
        case .office:
            match.kind = .office
        case .fallback:
            match.kind = .unknown  // shared by every session the pool could not serve
        case .staticSource(let source):
            match.kind = .staticNumber
            match.source = source
        case .dynamic:
            let prefix = StoreKeys.numberPrefix(site: event.site, number: number)
            if let session = try coveringLease(prefix, at: event.callStartMs, txn) {
                match.kind = .session
                match.session = try sessionValue(session, txn)
                if let callerPhone {
                    try union(session, callerPhone, guards: guards(event.site), site: event.site,
                        timeMs: event.timeMs, cause: seq, txn)
                }
                report.callsMatched += 1
                matched = session
            } else {
                match.kind = .unknown
                var value: [UInt8] = []
                ByteCoding.appendLittleEndian(callerPhone ?? 0, to: &value)
                ByteCoding.appendLittleEndian(event.timeMs, to: &value)
                try txn.put(graph.tables.callWait, StoreKeys.numberKey(prefix, timeMs: event.callStartMs, seq), value)
                report.callsUnmatched += 1
            }
        }
        try txn.put(graph.tables.call, StoreKeys.seqKey(seq), match.encoded)
        return matched
    }

    /// The session whose lease of the number covered `timeMs`; of several,
    /// the one shown the number last.
    private func coveringLease(_ prefix: [UInt8], at timeMs: Int64, _ txn: borrowing Transaction) throws -> UInt64? {
        try txn.withCursor(graph.tables.leaseNumber) { cursor in
            var entry = try cursor.seek(atLeast: StoreKeys.numberKey(prefix, timeMs: timeMs, .max))
            entry = entry == nil ? try cursor.last() : try cursor.previous()
            while let (key, value) = entry, StoreKeys.hasNumberPrefix(key, prefix) {
                let (start, session) = StoreKeys.decodeNumberKey(key, prefixCount: prefix.count)
                if start < timeMs - GraphLimits.leaseScanMs { break }
                if ByteCoding.littleEndian(value, at: 0, as: Int64.self) >= timeMs { return session }
                entry = try cursor.previous()
            }
            return nil
        }
    }

    /// Matches the calls waiting on this number between `from` and `to`
    /// (inclusive) to `session`.
    private mutating func matchWaiting(
        _ prefix: [UInt8], site: UInt32, from: Int64, to: Int64, session: UInt64, _ txn: borrowing Transaction
    ) throws {
        struct Waiting {
            let key: [UInt8], seq: UInt64, callerPhone: UInt64, eventTimeMs: Int64
        }
        var waiting: [Waiting] = []
        try txn.scan(graph.tables.callWait, from: StoreKeys.numberKey(prefix, timeMs: from, 0)) { key, value in
            guard StoreKeys.hasNumberPrefix(key, prefix) else { return false }
            let (time, seq) = StoreKeys.decodeNumberKey(key, prefixCount: prefix.count)
            guard time <= to else { return false }
            waiting.append(Waiting(
                key: Array(key), seq: seq,
                callerPhone: ByteCoding.littleEndian(value, at: 0, as: UInt64.self),
                eventTimeMs: ByteCoding.littleEndian(value, at: 8, as: Int64.self)))
            return true
        }
        guard !waiting.isEmpty else { return }
        let number = String(decoding: prefix[5...], as: UTF8.self)
        let sessionValue = try sessionValue(session, txn)
        for call in waiting {
            _ = try txn.delete(graph.tables.callWait, call.key)
            if call.callerPhone != 0 {
                try union(session, call.callerPhone, guards: guards(site), site: site,
                    timeMs: call.eventTimeMs, cause: call.seq, txn)
            } else {
                try reanchorUnlinked(seq: call.seq, timeMs: call.eventTimeMs, to: session, txn)
            }
            let match = CallMatch(kind: .session, trackingNumber: number, session: sessionValue)
            try txn.put(graph.tables.call, StoreKeys.seqKey(call.seq), match.encoded)
            report.callsMatchedLate += 1
        }
    }

    /// A hidden caller's call, stored without an anchor, now belongs to `session`.
    private mutating func reanchorUnlinked(
        seq: UInt64, timeMs: Int64, to session: UInt64, _ txn: borrowing Transaction
    ) throws {
        if seq >= firstSeq {
            pendingEvents[Int(seq - firstSeq)].anchor = session  // this batch's: not written yet
            if defersEntries {  // now deferred with its session's count
                deferredLastSeen[session] = max(deferredLastSeen[session] ?? .min, timeMs)
                counters.unlinkedEvents -= 1
                return
            }
        } else {
            _ = try txn.delete(graph.tables.event, StoreKeys.eventKey(anchor: 0, timeMs: timeMs, seq: seq))
            try txn.put(graph.tables.event, StoreKeys.eventKey(anchor: session, timeMs: timeMs, seq: seq), [UInt8(EventType.call.rawValue)])
        }
        try updateNode(session, txn) { record in
            record.addAnchored(.call)
            record.lastSeenMs = max(record.lastSeenMs, timeMs)
        }
        counters.unlinkedEvents -= 1
    }

    private mutating func noteActivity(
        _ session: UInt64, _ lease: LeaseRecord, renewal: Bool = false, _ txn: borrowing Transaction
    ) throws {
        report.leaseActivity.append(LeaseActivity(
            site: lease.site, number: lease.number, session: try sessionValue(session, txn), heldUntilMs: lease.endMs,
            renewal: renewal))
    }

    private mutating func sessionValue(_ session: UInt64, _ txn: borrowing Transaction) throws -> String {
        String(decoding: try record(session, txn).value, as: UTF8.self)
    }

    private static func endBytes(_ endMs: Int64) -> [UInt8] {
        var bytes: [UInt8] = []
        ByteCoding.appendLittleEndian(endMs, to: &bytes)
        return bytes
    }
}
