import StitchIdentity
import StitchStore

extension IdentityGraph {
    /// Applies a batch of prepared events in one write transaction: finds or
    /// creates their identifiers' nodes, links the identifiers of each event
    /// (subject to the guards), keeps leases and matches calls, and stores
    /// every event under its anchor. Events are prepared (normalized) off the
    /// writer's thread, by `StitchBeacon.EventPreparer` in the server. Then
    /// extends the leases of `renewals` (open pages still showing a number).
    ///
    /// - Returns: what was done; nothing is done if it throws.
    @discardableResult
    public func apply(
        _ events: [PreparedEvent], renewals: [LeaseRenewal] = [], nowMs: Int64
    ) throws -> ApplyReport {
        var (report, cost) = try writeApplying { txn in try applySegment(events, renewals: renewals, nowMs: nowMs, txn) }
        report.commitCost = cost
        return report
    }

    /// Runs an apply's write transaction and keeps `DedupMemory` equal to
    /// the store: the ids the transaction remembered are kept once it has
    /// committed (and those it pruned forgotten), dropped when it aborted
    /// or is rerun (LMDB reruns the closure after growing the map).
    /// Returns the body's result and what the commit cost.
    func writeApplying<Result>(
        _ body: (borrowing Transaction) throws -> (Result, [(id: DedupID, arrivalMs: Int64)])
    ) throws -> (Result, cost: CommitCost) {
        let written: (result: (Result, [(id: DedupID, arrivalMs: Int64)], IndexOverlay), cost: CommitCost)
        do {
            written = try environment.writeCountingPages { txn in
                dedupMemory.rollBack()
                let (result, pruned) = try body(txn)
                return (result, pruned, try indexOverlay(txn))
            }
        } catch {
            dedupMemory.rollBack()
            throw error
        }
        writeBehind.publish(written.result.2)
        dedupMemory.commitRemembered()
        dedupMemory.forget(written.result.1)
        return (written.result.0, written.cost)
    }

    /// One `apply`'s work inside a write transaction: everything a commit
    /// of these events would write, counters included. Segments applied one
    /// after another in one transaction (`apply(segments:first:)`)
    /// write exactly what as many transactions would.
    func applySegment(
        _ events: [PreparedEvent], renewals: [LeaseRenewal], nowMs: Int64, _ txn: borrowing Transaction
    ) throws -> (ApplyReport, [(id: DedupID, arrivalMs: Int64)]) {
        var writer = BatchWriter(graph: self, counters: try counters(txn))
        if writeBehind.isOn {
            writer.deferIndex(
                from: try indexOverlay(txn), nowMs: nowMs, thisBatch: events.count <= IndexWriteBehind.batchEventsMax)
        }
        writer.startArrival(events)
        for (index, event) in events.enumerated() {
            try writer.apply(event, index: index, txn)
        }
        for renewal in renewals {
            try writer.renew(renewal, txn)
        }
        try writer.flush(txn)
        if let overlay = writer.overlay { writeBehind.stage(overlay) }
        var report = writer.report
        var counters = writer.counters
        // Repairs move index entries and counts: all of them in `event` first.
        if !writer.hubsTripped.isEmpty { try drainAll(txn) }
        // Identifiers the shared-identifier rule tripped on: quarantined
        // and their persons re-derived, in this same transaction.
        for hub in writer.hubsTripped {
            let tripped = try nodeRecord(hub.node, txn)
            // Already quarantined with a device that tripped before it in this batch.
            guard !tripped.isQuarantined else { continue }
            let isDevice = tripped.kind.isDevice
            // A device's sharing began with its first counted link; the
            // visit that made it began up to a visit's length before.
            let ownerBeforeMs = isDevice ? tripped.hubWindowStartMs - GraphLimits.sharedDeviceVisitMs : 0
            let record = QuarantineRecord(
                source: .automatic, links: hub.links, sinceMs: nowMs, causeEvent: hub.seq,
                reason: isDevice
                    ? "shared device: linked \(hub.links) distinguishable persons within the site's device period"
                    : "linked \(hub.links) unrelated persons within the site's hub period",
                ownerBeforeMs: ownerBeforeMs)
            guard let repair = try quarantineAutomatically(node: hub.node, record: record, nowMs: nowMs, &report, &counters, txn)
            else { continue }
            if isDevice {
                try quarantineCompanions(
                    of: hub.node, events: repair.eventsCarrying, cause: hub.seq, ownerBeforeMs: ownerBeforeMs, nowMs: nowMs,
                    &report, &counters, txn)
            }
        }
        try txn.put(tables.meta, GraphCounters.key, counters.encoded())
        return (report, writer.dedupPruned)
    }
}

/// The state of one `apply` transaction. It caches the nodes and identifiers
/// the batch touches and writes each changed node once, at `flush`.
///
/// It lives only inside the transaction's closure: if LMDB needs the map
/// grown, the closure runs again with a fresh writer.
struct BatchWriter {
    let graph: IdentityGraph
    var counters: GraphCounters
    let firstNewNode: UInt64
    var report = ApplyReport()
    /// Why merges made by this writer happen (beacons link; an unquarantine relinks).
    var changeReason: ChangeRecord.Reason = .linked
    var changeIdentifierNode: UInt64 = 0
    /// Identifiers the shared-identifier rule tripped on in this batch.
    var hubsTripped: [(node: UInt64, seq: UInt64, links: UInt16)] = []
    /// The dedup entries this transaction pruned: `DedupMemory` forgets
    /// them once the transaction has committed.
    var dedupPruned: [(id: DedupID, arrivalMs: Int64)] = []
    /// Whether `flush` prunes expired ids: only `apply` hands what it pruned
    /// to `DedupMemory` after the commit, so other writers leave them.
    var prunesDedup = true
    /// The ids this transaction remembered, with their events' seqs, in
    /// seq order: written to the `dedup` table at flush.
    var dedupRemembered: [(id: DedupID, seq: UInt64)] = []

    /// Each site's number pool, read once per batch.
    var sitePools: [UInt32: NumberPool] = [:]

    private var nodes: [UInt64: NodeRecord] = [:]
    private var dirtyNodes: Set<UInt64> = []
    /// Identifiers the batch touched → node, keyed by the prepared values
    /// themselves (a key costs a retain, not a byte array per lookup).
    private var identCache: [SiteIdentifier: UInt64] = [:]
    /// The guards of each site seen in the batch.
    private var siteGuards: [UInt32: Guards] = [:]
    /// Index entries (anchor, time, seq) → type, written sorted at flush.
    /// Appended in seq order, so event `seq` is at `seq - firstSeq` until flush sorts them.
    var pendingEvents: [PendingEvent] = []
    /// The write-behind as this transaction leaves it, when entries with an
    /// anchor are deferred (`IndexOverlay`; `apply` only: other writers
    /// emptied it first). Their anchors' counts and last-seen times are
    /// deferred with them.
    private(set) var overlay: IndexOverlay?
    /// The apply's time: when a generation began (`IndexOverlay`).
    private var nowMs: Int64 = 0
    /// Whether this batch's entries are deferred (`IndexWriteBehind.batchEventsMax`).
    private(set) var defersEntries = false
    /// This batch's deferred events' latest time per anchor, for the lease
    /// rules, which read a session's latest activity (`activityMs`).
    var deferredLastSeen: [UInt64: Int64] = [:]
    /// One stored event's bytes, reused: events go to the log as they are applied.
    private var scratchLog: [UInt8] = []
    let firstSeq: UInt64
    private var scratchKey: [UInt8] = []

    init(graph: IdentityGraph, counters: GraphCounters) {
        self.graph = graph
        self.counters = counters
        self.firstNewNode = counters.nextNode
        self.firstSeq = counters.nextEvent
        scratchKey.reserveCapacity(GraphLimits.keyBytesMax)
    }

    mutating func apply(_ event: PreparedEvent, index: Int, _ txn: borrowing Transaction) throws {
        if counters.suppressions > 0, try carriesSuppressedIdentifier(event, txn) {
            report.suppressed.append(index)
            return
        }
        let seq = counters.nextEvent
        if case .repeated = dedup(event, seq: seq) {
            report.repeats.append(index)
            return
        }
        counters.nextEvent += 1
        let guards = guards(event.site)
        let identifiers = event.identifiers
        for refusal in event.refused { report.identifiersRejected[refusal.reason.code, default: 0] += 1 }

        let nodesBefore = counters.nextNode
        var eventNodes: [UInt64] = []
        eventNodes.reserveCapacity(identifiers.count)
        for identifier in identifiers {
            eventNodes.append(try node(for: identifier, site: event.site, timeMs: event.timeMs, txn))
        }
        // Quarantined identifiers link nothing; their events are listed so
        // that lifting the quarantine can link exactly them again.
        var linkNodes = eventNodes
        for node in eventNodes where try record(node, txn).isQuarantined {
            linkNodes.removeAll { $0 == node }
            try txn.put(graph.tables.quarantineEvent, StoreKeys.quarantineEventKey(node: node, seq: seq), [])
        }
        let rules = graph.configuration.rules(for: event.site)
        if rules.hub.isOn || rules.device.isOn, linkNodes.count > 1 {
            try countHubLinks(linkNodes, existingBelow: nodesBefore, rules: rules, timeMs: event.timeMs, seq: seq, txn)
        }
        for other in linkNodes.dropFirst() {
            try union(linkNodes[0], other, guards: guards, site: event.site, timeMs: event.timeMs, cause: seq, txn)
        }
        let matching = graph.configuration.callMatching
        let session = matching ? event.sessionIndex.map { eventNodes[$0] } : nil
        if let session {
            if event.type == .numberShown, let number = event.trackingNumber {
                try openLease(session: session, site: event.site, number: number, timeMs: event.timeMs, txn)
            } else {
                try refreshLease(session: session, site: event.site, timeMs: event.timeMs, txn)
            }
        }
        var matchedSession: UInt64?
        if matching, event.type == .call, let number = event.trackingNumber {
            let caller = event.callerPhoneIndex.map { eventNodes[$0] }.flatMap { linkNodes.contains($0) ? $0 : nil }
            matchedSession = try matchCall(event, seq: seq, number: number, callerPhone: caller, txn)
        }
        if let dealKey = event.dealKey, let index = event.dealContactIndex {
            try rememberDeal(site: event.site, dealKey: dealKey, contact: identifiers[index].value, txn)
        }
        var anchor = try anchor(of: linkNodes.isEmpty ? eventNodes : linkNodes, txn)
        if anchor == 0, let matchedSession { anchor = matchedSession }  // a hidden caller's call
        let type = event.type
        if anchor == 0 {
            counters.unlinkedEvents += 1
            report.unlinkedEvents += 1
        } else if defersEntries {
            if matching { deferredLastSeen[anchor] = max(deferredLastSeen[anchor] ?? .min, event.timeMs) }
        } else {
            try updateNode(anchor, txn) { record in
                record.addAnchored(type)
                record.lastSeenMs = max(record.lastSeenMs, event.timeMs)
                // firstSeenMs needs no update: node(for:) already moved it back.
            }
        }
        pendingEvents.append(PendingEvent(anchor: anchor, timeMs: event.timeMs, seq: seq, type: UInt8(type.rawValue)))
        // The log is keyed by seq, so each event is an append, written now.
        StoredEvent.encode(event, into: &scratchLog)
        try StoreKeys.withNodeKey(seq) { (key) throws(StoreError) in
            try scratchLog.span.withUnsafeBytes { (value) throws(StoreError) in
                try txn.put(graph.tables.log, key, value, append: true)
            }
        }
        counters.events += 1
        report.events += 1
        report.eventSeqs.append(seq)
    }

    /// Writes every changed node and the batch's events, sorted by key, each
    /// table through one cursor: a key on the leaf the previous one went to
    /// costs a search of that leaf, not a descent from the root (`Cursor.put`).
    /// Then the counters.
    mutating func flush(_ txn: borrowing Transaction) throws {
        var entries = pendingEvents
        if overlay != nil { entries = try writeBehind(txn) }
        try txn.withCursor(graph.tables.node) { cursor in
            for id in dirtyNodes.sorted() {
                let isNew = id >= firstNewNode
                let bytes = nodes[id]!.bytes
                try StoreKeys.withNodeKey(id) { (key) throws(StoreError) in
                    try bytes.span.withUnsafeBytes { (value) throws(StoreError) in
                        try cursor.put(key, value, append: isNew)
                    }
                }
            }
        }
        entries.sort()
        try IdentityGraph.putIndexEntries(entries[...], table: graph.tables.event, txn)
        try writeRemembered(txn)
        if prunesDedup { try pruneDedup(txn) }
        try txn.put(graph.tables.meta, GraphCounters.key, counters.encoded())
    }

    // MARK: The index's write-behind

    /// Keeps the write-behind `overlay` going: writes a slice of its frozen
    /// generation, and defers `thisBatch`'s index entries with an anchor to it.
    mutating func deferIndex(from overlay: IndexOverlay, nowMs: Int64, thisBatch: Bool) {
        self.overlay = overlay
        self.nowMs = nowMs
        defersEntries = thisBatch
    }

    /// The latest activity of a session: its node's last-seen time with
    /// its deferred events'.
    mutating func activityMs(_ session: UInt64, _ txn: borrowing Transaction) throws -> Int64 {
        let stored = try record(session, txn).lastSeenMs
        guard let overlay else { return stored }
        return max(stored, overlay.lastSeenMs(of: session), deferredLastSeen[session] ?? .min)
    }

    /// Journals the batch's entries that have an anchor and adds them to the
    /// overlay; takes the frozen generation's next slice, adding it to its
    /// anchors' nodes; deletes journal rows of written generations; freezes
    /// the active generation when the frozen one is written. Returns the
    /// entries to put in `event` now: those without an anchor, and the slice.
    private mutating func writeBehind(_ txn: borrowing Transaction) throws -> [PendingEvent] {
        guard var overlay else { return pendingEvents }
        let stateBefore = overlay.state
        var now: [PendingEvent] = [], deferred: [PendingEvent] = []
        deferred.reserveCapacity(pendingEvents.count)
        var value: [UInt8] = []
        value.reserveCapacity(17)
        try txn.withCursor(graph.tables.eventJournal) { cursor in
            for entry in pendingEvents {  // in seq order: each row an append
                guard entry.anchor != 0, defersEntries else {
                    now.append(entry)
                    continue
                }
                deferred.append(entry)
                IndexOverlay.journalValue(entry, into: &value)
                try StoreKeys.withNodeKey(entry.seq) { (key) throws(StoreError) in
                    try value.span.withUnsafeBytes { (bytes) throws(StoreError) in
                        try cursor.put(key, bytes, append: true)
                    }
                }
            }
        }
        let run = overlay.takeDrainRun(max(IndexWriteBehind.drainRunMin, 2 * deferred.count))
        try run.forEachAnchorRun { anchor, entries in
            try updateNode(anchor, txn) { $0.addAnchored(entries) }
        }
        now.append(contentsOf: run)
        report.indexDeferred += deferred.count
        report.indexWrittenBehind += run.count
        overlay.state.journalHead = try deleteJournalRows(
            from: overlay.state.journalHead, below: overlay.state.frozenStart,
            max: max(IndexWriteBehind.drainRunMin, 2 * deferred.count), txn)
        deferred.sort()
        overlay.add(sorted: deferred, nowMs: nowMs)
        if overlay.frozenIsDrained, overlay.activeCount > 0,
            overlay.activeCount >= graph.writeBehind.generationEvents
                || nowMs - overlay.state.activeSinceMs >= IndexWriteBehind.generationAgeMaxMs
        {
            overlay.freeze(nextSeq: counters.nextEvent)
        }
        if overlay.state != stateBefore || !deferred.isEmpty {
            overlay.state.version &+= 1
            try txn.put(graph.tables.meta, IndexOverlay.State.key, overlay.state.encoded())
        }
        self.overlay = overlay
        return now
    }

    /// Deletes up to `max` journal rows from its head, all of them below
    /// `end` (a written generation's); returns the new head.
    private func deleteJournalRows(
        from head: UInt64, below end: UInt64, max count: Int, _ txn: borrowing Transaction
    ) throws -> UInt64 {
        guard head < end else { return head }
        return try txn.withCursor(graph.tables.eventJournal) { cursor in
            var deleted = 0
            while let row = try cursor.first() {
                let seq = ByteCoding.bigEndian(row.key, at: 0, as: UInt64.self)
                guard seq < end else { return end }
                guard deleted < count else { return seq }
                try cursor.deleteCurrent()
                deleted += 1
            }
            return end
        }
    }

    // MARK: Shared identifiers

    /// Counts a link for each shared-identifier candidate of the event that
    /// joins two distinguishable persons (see `HubRule`), and notes those
    /// past their rule's limit. Candidates are known identifiers not released
    /// by an operator: a phone or e-mail that is the sole evidence of the
    /// link (`SiteRules.hub`), or a device — tracker cookie, GA or Yandex
    /// client id (`SiteRules.device`). A device need not be the sole
    /// evidence: the visit's session joined the device's person when the
    /// visit began, so a kiosk visitor's form reaches the kiosk through both.
    private mutating func countHubLinks(
        _ nodes: [UInt64], existingBelow nodesBefore: UInt64, rules: SiteRules, timeMs: Int64, seq: UInt64,
        _ txn: borrowing Transaction
    ) throws {
        // This runs for nearly every event (a returning visitor's cookie is a
        // candidate), so it allocates nothing: candidacy is asked again below
        // instead of kept in an array (it reads only kind and flags, which
        // nothing here changes), and the roots live on the stack.
        var anyCandidate = false
        for node in nodes where try hubCandidacy(of: node, existingBelow: nodesBefore, rules: rules, txn) != nil {
            anyCandidate = true
            break
        }
        guard anyCandidate else { return }
        try withUnsafeTemporaryAllocation(of: UInt64.self, capacity: nodes.count) { roots in
            for (index, node) in nodes.enumerated() { roots.initializeElement(at: index, to: try find(node, txn)) }
            for (index, node) in nodes.enumerated() {
                guard let (rule, isDevice) = try hubCandidacy(of: node, existingBelow: nodesBefore, rules: rules, txn)
                else { continue }
                let own = roots[index]
                // Most events join nothing: every identifier is in one person.
                guard roots.contains(where: { $0 != own }) else { continue }
                let soleEvidence = !roots.indices.contains { $0 != index && roots[$0] == own }
                guard isDevice || soleEvidence else { continue }
                guard try distinguishable(candidate: node, own: own, roots: UnsafeBufferPointer(roots), txn) else { continue }
                var links: UInt16 = 0
                try updateNode(node, txn) { record in
                    // A window begins at the first link and tumbles after the
                    // period. Counts voided by a repair keep their window's start:
                    // a shared device's sharing began then (`ownerBeforeMs`).
                    if record.hubWindowStartMs == 0 || timeMs - record.hubWindowStartMs > rule.periodMs {
                        record.hubWindowStartMs = timeMs
                        record.hubLinks = 0
                    }
                    record.hubLinks = UInt16(clamping: Int(record.hubLinks) + 1)
                    links = record.hubLinks
                }
                if Int(links) > rule.linksMax, !hubsTripped.contains(where: { $0.node == node }) {
                    hubsTripped.append((node, seq, links))
                }
            }
        }
    }

    /// Whether an event's node is a shared-identifier candidate, and under
    /// which rule: a known identifier (created before this event) not
    /// released by an operator — a phone or e-mail under `SiteRules.hub`, a
    /// device under `SiteRules.device`.
    private mutating func hubCandidacy(
        of node: UInt64, existingBelow nodesBefore: UInt64, rules: SiteRules, _ txn: borrowing Transaction
    ) throws -> (rule: HubRule, isDevice: Bool)? {
        guard node < nodesBefore else { return nil }
        let record = try record(node, txn)
        guard !record.flags.contains(.released) else { return nil }
        if record.kind == .phone || record.kind == .email, rules.hub.isOn { return (rules.hub, false) }
        if record.kind.isDevice, rules.device.isOn { return (rules.device, true) }
        return nil
    }

    /// Whether the candidate's person (without the candidate) and the
    /// persons of the event's other identifiers (new ones among them: a
    /// visitor's first e-mail) each hold a personal identifier of one kind
    /// (`HubRule`). Read from the roots' counts, nothing allocated: it runs
    /// for every event that joins persons.
    private mutating func distinguishable(
        candidate: UInt64, own: UInt64, roots: UnsafeBufferPointer<UInt64>, _ txn: borrowing Transaction
    ) throws -> Bool {
        let candidateKind = try record(candidate, txn).kind
        let ownRecord = try record(own, txn)
        for kind in IdentifierKind.allCases where kind.isPersonal {
            let ownHolds = ownRecord.kindCount(kind) > (kind == candidateKind ? 1 : 0)
            guard ownHolds else { continue }
            for root in roots where root != own {
                if try record(root, txn).kindCount(kind) > 0 { return true }
            }
        }
        return false
    }

    mutating func guards(_ site: UInt32) -> Guards {
        if let cached = siteGuards[site] { return cached }
        let guards = graph.configuration.rules(for: site).guards
        siteGuards[site] = guards
        return guards
    }

    // MARK: Identifiers

    /// The node of an identifier, created (as a new singleton person) if new.
    mutating func node(
        for identifier: NormalizedIdentifier,
        site: UInt32,
        timeMs: Int64,
        _ txn: borrowing Transaction
    ) throws -> UInt64 {
        let cacheKey = SiteIdentifier(site: site, identifier: identifier)
        if let id = identCache[cacheKey] {
            try noteSeen(id, timeMs: timeMs, txn)
            return id
        }
        StoreKeys.identKey(site: site, kind: identifier.kind, value: identifier.value.utf8, into: &scratchKey)
        if let stored = try txn.get(graph.tables.ident, scratchKey) {
            let id = ByteCoding.littleEndian(stored, at: 0, as: UInt64.self)
            identCache[cacheKey] = id
            try noteSeen(id, timeMs: timeMs, txn)
            return id
        }
        let id = counters.nextNode
        counters.nextNode += 1
        counters.persons += 1
        report.identifiersCreated += 1
        var idBytes: [UInt8] = []
        ByteCoding.appendLittleEndian(id, to: &idBytes)
        try txn.put(graph.tables.ident, scratchKey, idBytes)
        identCache[cacheKey] = id
        nodes[id] = NodeRecord(id: id, site: site, kind: identifier.kind, value: identifier.value.utf8, timeMs: timeMs)
        dirtyNodes.insert(id)
        return id
    }

    /// A late event (earlier than the identifier's first sighting) moves its
    /// first-seen time back.
    private mutating func noteSeen(_ id: UInt64, timeMs: Int64, _ txn: borrowing Transaction) throws {
        if try record(id, txn).firstSeenMs > timeMs {
            try updateNode(id, txn) { $0.firstSeenMs = timeMs }
        }
    }

    // MARK: Union-find

    /// The root of `id`'s person, compressing the path to it.
    mutating func find(_ id: UInt64, _ txn: borrowing Transaction) throws -> UInt64 {
        var root = id
        var steps = 0
        while true {
            let parent = try record(root, txn).parent
            if parent == root { break }
            root = parent
            steps += 1
            precondition(steps <= counters.nextNode, "parent chain of node \(id) has a cycle")
        }
        var current = id
        while current != root {
            let parent = try record(current, txn).parent
            if parent != root { try updateNode(current, txn) { $0.parent = root } }
            current = parent
        }
        return root
    }

    /// The node an event is stored under (`AnchorRule`).
    mutating func anchor(of eventNodes: [UInt64], _ txn: borrowing Transaction) throws -> UInt64 {
        guard let newest = eventNodes.max() else { return 0 }
        // Usually every identifier is in one person by now: no arrays needed.
        let firstRoot = try find(eventNodes[0], txn)
        var oneRoot = true
        for node in eventNodes.dropFirst() where try find(node, txn) != firstRoot {
            oneRoot = false
            break
        }
        if oneRoot { return newest }
        var persons: [(person: UInt64, node: UInt64)] = []
        for node in eventNodes { persons.append((try find(node, txn), node)) }
        return AnchorRule.anchor(persons)
    }

    /// Links the persons of `a` and `b` unless a guard refuses (recorded as a
    /// conflict). The older root (smaller id: ids are assigned in order)
    /// survives; the rings are spliced by swapping the roots' `next`, and the
    /// merge is logged in the change feed.
    mutating func union(
        _ a: UInt64,
        _ b: UInt64,
        guards: Guards,
        site: UInt32,
        timeMs: Int64,
        cause: UInt64,
        _ txn: borrowing Transaction
    ) throws {
        let rootA = try find(a, txn), rootB = try find(b, txn)
        if rootA == rootB { return }
        let winner = min(rootA, rootB), loser = max(rootA, rootB)
        let winnerRecord = try record(winner, txn), loserRecord = try record(loser, txn)
        if let reason = guards.refusal(winnerRecord, loserRecord) {
            let conflict = ConflictRecord(
                seq: counters.nextConflict, site: site, timeMs: timeMs,
                personA: winner, personB: loser, causeEvent: cause, reason: reason
            )
            try conflict.store(graph.tables, txn)
            counters.nextConflict += 1
            report.conflicts[reason.description, default: 0] += 1
            return
        }
        let winnerNext = winnerRecord.next
        try updateNode(winner, txn) { record in
            record.next = loserRecord.next
            record.absorbCounts(of: loserRecord)
        }
        try updateNode(loser, txn) { record in
            record.next = winnerNext
            record.parent = winner
        }
        let merge = ChangeRecord(
            mergeSeq: counters.nextChange, site: site, timeMs: timeMs,
            winner: winner, loser: loser, causeEvent: cause, reason: changeReason, identifierNode: changeIdentifierNode
        )
        try txn.put(graph.tables.change, StoreKeys.seqKey(merge.seq), merge.encoded(), append: true)
        counters.nextChange += 1
        counters.persons -= 1
        report.merges += 1
    }

    // MARK: Node cache

    mutating func record(_ id: UInt64, _ txn: borrowing Transaction) throws -> NodeRecord {
        if let cached = nodes[id] { return cached }
        guard let stored = try StoreKeys.withNodeKey(id, { (key) throws(StoreError) in try txn.get(graph.tables.node, key) }) else {
            preconditionFailure("node \(id) is referenced but missing")
        }
        let record = NodeRecord(copying: stored)
        nodes[id] = record
        return record
    }

    mutating func updateNode(
        _ id: UInt64,
        _ txn: borrowing Transaction,
        _ change: (inout NodeRecord) -> Void
    ) throws {
        _ = try record(id, txn)  // loads it into the cache
        change(&nodes[id]!)  // in place: the cached bytes stay uniquely referenced
        dirtyNodes.insert(id)
    }
}
