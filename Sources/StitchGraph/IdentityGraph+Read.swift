import StitchIdentity
import StitchStore

extension IdentityGraph {
    // MARK: Resolving

    /// The current person id (root) of an identifier, or `nil` if unknown.
    public func personID(site: UInt32, identifier: NormalizedIdentifier) throws -> UInt64? {
        try environment.read { txn in try resolve(site: site, identifier: identifier, txn) }
    }

    func resolve(site: UInt32, identifier: NormalizedIdentifier, _ txn: borrowing Transaction) throws -> UInt64? {
        guard let node = try identNode(site: site, identifier: identifier, txn) else { return nil }
        return try root(of: node, txn)
    }

    /// Follows parents to the root, without compressing (readers never write).
    func root(of id: UInt64, _ txn: borrowing Transaction) throws -> UInt64 {
        var current = id
        var steps: UInt64 = 0
        var bound = UInt64.max
        while true {
            let parent = try nodeRecord(current, txn).parent
            if parent == current { return current }
            current = parent
            steps += 1
            // The writer compresses paths, so chains are short; only a long
            // one pays for reading the bound that only a cycle can break.
            if steps == 64 { bound = try counters(txn).nextNode }
            precondition(steps <= bound, "parent chain of node \(id) has a cycle")
        }
    }

    func nodeRecord(_ id: UInt64, _ txn: borrowing Transaction) throws -> NodeRecord {
        guard let stored = try txn.get(tables.node, StoreKeys.nodeKey(id)) else {
            preconditionFailure("node \(id) is referenced but missing")
        }
        return NodeRecord(copying: stored)
    }

    /// The ids of a person's members, walking the ring from its root.
    func members(ofRoot root: UInt64, _ txn: borrowing Transaction) throws -> [UInt64] {
        var members: [UInt64] = []
        try forEachMember(ofRoot: root, txn) { id, _ in members.append(id) }
        return members
    }

    /// Walks a person's ring from its root, handing each member's record to
    /// `body` (read once, since following the ring needs it anyway).
    func forEachMember(
        ofRoot root: UInt64,
        _ txn: borrowing Transaction,
        _ body: (UInt64, NodeRecord) throws -> Void
    ) throws {
        let bound = Int(try counters(txn).nextNode)
        var current = root
        var visited = 0
        repeat {
            let record = try nodeRecord(current, txn)
            try body(current, record)
            visited += 1
            precondition(visited <= bound, "ring of \(root) does not close")
            current = record.next
        } while current != root
    }

    // MARK: Lookup

    /// A person by one of its identifiers; `nil` if the identifier is unknown.
    public func lookup(
        site: UInt32,
        identifier: NormalizedIdentifier,
        includeIdentifiers: Bool = false
    ) throws -> Person? {
        try environment.read { txn in
            guard let root = try resolve(site: site, identifier: identifier, txn) else { return nil }
            return try person(root: root, includeIdentifiers: includeIdentifiers, txn)
        }
    }

    /// A person by any id it ever had; `nil` if no such person is in `site`.
    public func lookup(site: UInt32, personID: UInt64, includeIdentifiers: Bool = false) throws -> Person? {
        try environment.read { txn in
            guard let root = try existingRoot(of: personID, site: site, txn) else { return nil }
            return try person(root: root, includeIdentifiers: includeIdentifiers, txn)
        }
    }

    func existingRoot(of personID: UInt64, site: UInt32, _ txn: borrowing Transaction) throws -> UInt64? {
        guard personID > 0, personID < (try counters(txn).nextNode) else { return nil }
        let root = try root(of: personID, txn)
        let record = try nodeRecord(root, txn)
        return record.site == site && !record.isErased ? root : nil
    }

    /// Sums a person's members: identifiers, first and last seen, events by type.
    func person(root: UInt64, includeIdentifiers: Bool, _ txn: borrowing Transaction) throws -> Person {
        var person = Person(
            personID: root, site: 0, identifierCount: 0, firstSeenMs: .max, lastSeenMs: .min, eventCounts: [:],
            identifiers: [])
        var byType = [UInt64](repeating: 0, count: EventType.allCases.count)
        let overlay = try indexOverlay(txn)
        try forEachMember(ofRoot: root, txn) { id, record in
            if id == root {  // person-wide totals live at the root
                person.site = record.site
                person.identifierCount = record.size
            }
            // The member's events still in the write-behind count too.
            let deferred = overlay.delta(of: id)
            let lastSeenMs = max(record.lastSeenMs, deferred.lastSeenMs)
            person.firstSeenMs = min(person.firstSeenMs, record.firstSeenMs)
            person.lastSeenMs = max(person.lastSeenMs, lastSeenMs)
            for type in EventType.allCases {
                byType[type.rawValue] += UInt64(record.anchored(type)) + UInt64(deferred.counts[type] ?? 0)
            }
            if includeIdentifiers {
                var identifier = PersonIdentifier(record)
                identifier.lastSeenMs = lastSeenMs
                person.identifiers.append(identifier)
            }
        }
        person.identifiers.sort {
            ($0.identifier.kind.rawValue, $0.identifier.value) < ($1.identifier.kind.rawValue, $1.identifier.value)
        }
        for type in EventType.allCases where byType[type.rawValue] > 0 {
            person.eventCounts[type] = byType[type.rawValue]
        }
        return person
    }

    // MARK: History

    /// One page of a person's events, ordered by (time, seq), merged across
    /// every member of the person.
    public func history(site: UInt32, personID: UInt64, query: HistoryQuery) throws -> HistoryPage? {
        try environment.read { txn in
            guard let root = try existingRoot(of: personID, site: site, txn) else { return nil }
            return try history(root: root, query: query, txn)
        }
    }

    /// One page of the history of the person an identifier belongs to.
    public func history(site: UInt32, identifier: NormalizedIdentifier, query: HistoryQuery) throws -> HistoryPage? {
        try environment.read { txn in
            guard let root = try resolve(site: site, identifier: identifier, txn) else { return nil }
            return try history(root: root, query: query, txn)
        }
    }

    private func history(root: UInt64, query: HistoryQuery, _ txn: borrowing Transaction) throws -> HistoryPage {
        // Keep only the best `limit + 1` positions across all members (one
        // more than a page tells whether a next page exists), so memory stays
        // O(limit) however many members and events the person has; then read
        // the values of the chosen events only.
        var best = BestPositions(capacity: query.limit + 1, newestFirst: query.newestFirst)
        let overlay = try indexOverlay(txn)  // once for all members
        for member in try members(ofRoot: root, txn) {
            try collectPositions(anchor: member, query: query, deferred: overlay, into: &best, txn)
        }
        let page = best.entries.prefix(query.limit)
        let events = try page.map { entry in try event(seq: entry.position.seq, txn) }
        var context: [EventRecord] = []
        if let contextMs = query.conversionContextMs {
            let conversionTimes = events.filter(\.type.isConversion).map(\.timeMs)
            if let earliest = conversionTimes.min(), let latest = conversionTimes.max() {
                context = try contextEvents(root: root, fromMs: earliest - contextMs, toMs: latest, txn)
            }
        }
        let next = best.entries.count > query.limit ? page.last?.position : nil
        return HistoryPage(personID: root, events: events, context: context, next: next)
    }

    /// One stored event, with its call match for calls.
    func event(seq: UInt64, _ txn: borrowing Transaction) throws -> EventRecord {
        guard let stored = try txn.get(tables.log, StoreKeys.logKey(seq)) else {
            preconditionFailure("event \(seq) vanished inside one read transaction")
        }
        return try withCallMatch(StoredEvent.decode(stored, seq: seq), txn)
    }

    /// `event` with its call match filled in, for calls.
    func withCallMatch(_ event: EventRecord, _ txn: borrowing Transaction) throws -> EventRecord {
        guard event.type == .call else { return event }
        var event = event
        event.callMatch = try callMatch(seq: event.seq, txn)
        return event
    }

    /// How call tracking placed call `seq`; nil for calls without a tracking number.
    func callMatch(seq: UInt64, _ txn: borrowing Transaction) throws -> CallMatch? {
        try txn.get(tables.call, StoreKeys.seqKey(seq)).map { CallMatch(decoding: $0, seq: seq) }
    }

    private static let contextTypes: Set<EventType> = Set(EventType.allCases.filter { $0 == .visit || $0.isConversion })

    /// The person's visits and conversions with time in [fromMs, toMs], in (time, seq) order.
    private func contextEvents(root: UInt64, fromMs: Int64, toMs: Int64, _ txn: borrowing Transaction) throws
        -> [EventRecord]
    {
        var positions: [HistoryCursor] = []
        for member in try members(ofRoot: root, txn) {
            try forEachIndexedEvent(anchor: member, fromMs: fromMs, txn) { time, seq, type in
                guard time <= toMs else { return false }
                if Self.contextTypes.contains(type) { positions.append(HistoryCursor(timeMs: time, seq: seq)) }
                return true
            }
        }
        positions.sort { $0.precedes($1) }
        return try positions.suffix(GraphLimits.conversionContextEventsMax).map { try event(seq: $0.seq, txn) }
    }

    /// Walks the index entries anchored at `anchor` from `fromMs` on, in
    /// (time, seq) order, until `body` returns false.
    func forEachIndexedEvent(
        anchor: UInt64, fromMs: Int64, _ txn: borrowing Transaction,
        _ body: (_ timeMs: Int64, _ seq: UInt64, _ type: EventType) throws -> Bool
    ) throws {
        // The store's entries and the write-behind's, merged in (time, seq) order.
        var deferred = try indexOverlay(txn).entries(of: anchor)[...].drop { $0.timeMs < fromMs }
        var going = true
        try txn.scan(tables.event, from: StoreKeys.eventKey(anchor: anchor, timeMs: fromMs, seq: 0)) { key, value in
            let (keyAnchor, time, seq) = StoreKeys.decodeEventKey(key)
            guard keyAnchor == anchor else { return false }
            while going, let first = deferred.first, (first.timeMs, first.seq) < (time, seq) {
                going = try body(first.timeMs, first.seq, EventType(rawValue: Int(first.type))!)
                deferred = deferred.dropFirst()
            }
            guard going else { return false }
            going = try body(time, seq, StoredEvent.type(of: value))
            return going
        }
        while going, let first = deferred.first {
            going = try body(first.timeMs, first.seq, EventType(rawValue: Int(first.type))!)
            deferred = deferred.dropFirst()
        }
    }

    /// Scans one member's events in query order, offering each to `best`,
    /// and stops at the first one `best` would not keep (later ones are worse).
    private func collectPositions(
        anchor: UInt64,
        query: HistoryQuery,
        deferred overlay: IndexOverlay,
        into best: inout BestPositions,
        _ txn: borrowing Transaction
    ) throws {
        /// Offers an event the query selects; false once no later one of
        /// this member can be kept.
        func offer(_ position: HistoryCursor, _ type: EventType) -> Bool {
            let beyondCursor = query.cursor.map {
                query.newestFirst ? position.precedes($0) : $0.precedes(position)
            } ?? true
            guard beyondCursor && (query.types.isEmpty || query.types.contains(type)) else { return true }
            return best.offer(position, anchor: anchor)
        }
        // The write-behind's entries first (a visit in progress: few), in query order.
        var deferred = overlay.entries(of: anchor)
        if query.newestFirst { deferred.reverse() }
        for entry in deferred {
            if query.newestFirst ? entry.timeMs >= query.toMs : entry.timeMs < query.fromMs { continue }
            if query.newestFirst ? entry.timeMs < query.fromMs : entry.timeMs >= query.toMs { break }
            guard offer(HistoryCursor(timeMs: entry.timeMs, seq: entry.seq), EventType(rawValue: Int(entry.type))!)
            else { break }
        }
        try txn.withCursor(tables.event) { cursor in
            var entry = try firstEntry(anchor: anchor, query: query, &cursor)
            while let (key, value) = entry {
                let (keyAnchor, time, seq) = StoreKeys.decodeEventKey(key)
                guard keyAnchor == anchor else { break }
                if query.newestFirst ? time < query.fromMs : time >= query.toMs { break }
                guard offer(HistoryCursor(timeMs: time, seq: seq), StoredEvent.type(of: value)) else { break }
                entry = query.newestFirst ? try cursor.previous() : try cursor.next()
            }
        }
    }

    /// Positions the cursor on the first event of `anchor` the query could return.
    private func firstEntry(anchor: UInt64, query: HistoryQuery, _ cursor: inout Cursor) throws -> Cursor.Entry? {
        if !query.newestFirst {
            var start = HistoryCursor(timeMs: query.fromMs, seq: 0)
            if let after = query.cursor, start.precedes(after) { start = after }
            return try cursor.seek(atLeast: StoreKeys.eventKey(anchor: anchor, timeMs: start.timeMs, seq: start.seq))
        }
        // Newest first: seek past the end bound, then step back.
        var end = HistoryCursor(timeMs: query.toMs, seq: 0)
        if let before = query.cursor, before.precedes(end) { end = before }
        if try cursor.seek(atLeast: StoreKeys.eventKey(anchor: anchor, timeMs: end.timeMs, seq: end.seq)) != nil {
            return try cursor.previous()
        }
        return try cursor.last()
    }

    // MARK: Changes and conflicts

    /// Changes (merges, splits, erasures) after `cursor` (a change seq; 0 for
    /// the first), oldest first, optionally of one site only.
    public func merges(after cursor: UInt64, limit: Int, site: UInt32? = nil) throws -> [ChangeRecord] {
        try mergesPage(after: cursor, limit: limit, site: site).merges
    }

    /// Like `merges`, but scans at most `GraphLimits.mergesScannedMax`
    /// records and says how far it got, so a client following one quiet
    /// site's feed moves forward without every poll rescanning the others.
    public func mergesPage(
        after cursor: UInt64, limit: Int, site: UInt32? = nil
    ) throws -> (merges: [ChangeRecord], scannedThrough: UInt64) {
        let page = try records(of: tables.change, after: cursor, limit: limit, scannedMax: GraphLimits.mergesScannedMax) {
            seq, value in
            let merge = ChangeRecord(seq: seq, decoding: value)
            return site == nil || merge.site == site ? merge : nil
        }
        return (page.records, page.scannedThrough)
    }

    /// Refused unions after `cursor` (a conflict seq), oldest first.
    public func conflicts(after cursor: UInt64, limit: Int) throws -> [ConflictRecord] {
        try records(of: tables.conflict, after: cursor, limit: limit, scannedMax: .max) { seq, value in
            ConflictRecord(seq: seq, decoding: value)
        }.records
    }

    /// Up to `limit` records of a seq-keyed table after `cursor`, oldest
    /// first, from at most `scannedMax` scanned; `decode` returns `nil` for a
    /// record the caller skips. `scannedThrough` is the last seq looked at.
    private func records<Record>(
        of table: Table, after cursor: UInt64, limit: Int, scannedMax: Int,
        _ decode: (_ seq: UInt64, _ value: UnsafeRawBufferPointer) -> Record?
    ) throws -> (records: [Record], scannedThrough: UInt64) {
        try environment.read { txn in
            var result: [Record] = []
            var scanned = 0
            var last = cursor
            try txn.scan(table, from: StoreKeys.seqKey(cursor + 1)) { key, value in
                guard result.count < limit, scanned < scannedMax else { return false }
                scanned += 1
                last = ByteCoding.bigEndian(key, at: 0, as: UInt64.self)
                if let record = decode(last, value) { result.append(record) }
                return true
            }
            return (result, last)
        }
    }

    // MARK: Totals

    /// Totals of the whole store.
    public struct Totals: Sendable, Equatable {
        public var persons: UInt64
        public var identifiers: UInt64
        public var events: UInt64
        public var unlinkedEvents: UInt64
        public var merges: UInt64
        public var conflicts: UInt64
    }

    /// The store's totals, from its counters (one read, no scan).
    public func totals() throws -> Totals {
        try environment.read { txn in
            let c = try counters(txn)
            return Totals(
                persons: c.persons, identifiers: c.identifiers, events: c.events,
                unlinkedEvents: c.unlinkedEvents, merges: c.changes, conflicts: c.conflicts
            )
        }
    }
}

extension IdentityGraph {
    /// The size of each of the graph's tables, by name (`StoreKeys`): what a
    /// remembered event id or an index entry costs on disk.
    public func tableStatistics() throws -> [String: TableStatistics] {
        try environment.read { txn in
            var sizes: [String: TableStatistics] = [:]
            for name in StoreKeys.allTables { sizes[name] = try txn.statistics(environment.table(name)) }
            return sizes
        }
    }
}

extension IdentityGraph {
    /// Calls `body` with each seq listed under `node` in a table keyed
    /// node | seq (`qevent`, `nconflict`), in order, until it returns false.
    func forEachSeq(in table: Table, under node: UInt64, _ txn: borrowing Transaction, _ body: (UInt64) throws -> Bool) throws {
        try txn.scan(table, from: StoreKeys.quarantineEventKey(node: node, seq: 0)) { key, _ in
            guard ByteCoding.bigEndian(key, at: 0, as: UInt64.self) == node else { return false }
            return try body(ByteCoding.bigEndian(key, at: 8, as: UInt64.self))
        }
    }
}
