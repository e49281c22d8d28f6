import StitchIdentity
import StitchStore

extension IdentityGraph {
    /// Quarantines `node` for the automatic rules inside an `apply`
    /// transaction and counts it in `report`. Nil when its person is too
    /// large to repair — only with guards configured far above their
    /// defaults; counted as refused, the batch still commits, and the
    /// identifier is left for an operator.
    func quarantineAutomatically(
        node: UInt64, record: QuarantineRecord, nowMs: Int64,
        _ report: inout ApplyReport, _ counters: inout GraphCounters, _ txn: borrowing Transaction
    ) throws -> PersonRepair.Outcome? {
        do {
            let repair = try quarantine(node: node, record: record, reason: .sharedIdentifier, nowMs: nowMs, &counters, txn)
            report.quarantined += 1
            report.splits += repair.parts.count - 1
            return repair
        } catch GraphError.personTooLarge {
            report.quarantinesRefused += 1
            return nil
        }
    }

    /// A browser is known by up to three device identifiers: the tracker's
    /// cookie, the GA and the Yandex client id. When one is quarantined as a
    /// shared device, the others that arrived in the same events (a visit
    /// carries all three) are the same browser and are quarantined with it;
    /// otherwise they would keep gluing the kiosk's visitors together. They
    /// keep the device's first owner (`ownerBeforeMs`) as it does.
    func quarantineCompanions(
        of node: UInt64, events: [UInt64], cause: UInt64, ownerBeforeMs: Int64, nowMs: Int64,
        _ report: inout ApplyReport, _ counters: inout GraphCounters, _ txn: borrowing Transaction
    ) throws {
        let device = try nodeRecord(node, txn)
        var companions: [UInt64] = []
        for seq in events.prefix(GraphLimits.repairEventsMax) {
            guard let stored = try txn.get(tables.log, StoreKeys.logKey(seq)) else { continue }
            for identifier in StoredEvent.decode(stored, seq: seq).identifiers
            where identifier.kind.isDevice && identifier.kind != device.kind {
                guard let other = try identNode(site: device.site, identifier: identifier, txn), !companions.contains(other),
                    try !nodeRecord(other, txn).isQuarantined
                else { continue }
                companions.append(other)
            }
        }
        // The browser's sharing began at the earliest first link of any of
        // its ids: the GA id of a kiosk counts links only on visits that
        // carry a login, so its window may start days after the cookie's.
        var ownerBeforeMs = ownerBeforeMs
        for companion in companions {
            let start = try nodeRecord(companion, txn).hubWindowStartMs
            if start != 0 { ownerBeforeMs = min(ownerBeforeMs, start - GraphLimits.sharedDeviceVisitMs) }
        }
        if var record = try quarantineRecord(node: node, txn), record.ownerBeforeMs > ownerBeforeMs {
            record.ownerBeforeMs = ownerBeforeMs
            try txn.put(tables.quarantine, StoreKeys.nodeKey(node), record.encoded())
        }
        var events = Set(events)
        for companion in companions {
            let record = QuarantineRecord(
                source: .automatic, sinceMs: nowMs, causeEvent: cause,
                reason: "shared device: the same browser as a \(device.kind.name) quarantined as shared", ownerBeforeMs: ownerBeforeMs)
            if let repair = try quarantineAutomatically(node: companion, record: record, nowMs: nowMs, &report, &counters, txn) {
                events.formUnion(repair.eventsCarrying)
            }
        }
        // Links the device glued refused (a colleague's own login beside
        // the first one's) are made now: every event the browser carried
        // links its remaining identifiers again, as if the browser had never
        // been in it. The repairs above only re-derive the persons they
        // split; they do not replay refusals made while the device glued.
        var writer = BatchWriter(graph: self, counters: counters)
        writer.prunesDedup = false
        let guards = configuration.rules(for: device.site).guards
        for seq in events.sorted() { _ = try relink(seq: seq, site: device.site, guards: guards, &writer, txn) }
        try writer.flush(txn)
        counters = writer.counters
        report.merges += writer.report.merges
    }
}
