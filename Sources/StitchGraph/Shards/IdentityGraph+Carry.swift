import StitchIdentity
import StitchStore

extension IdentityGraph {
    /// This shard's `CarriedState`, in one read transaction.
    public func carriedState() throws -> CarriedState {
        try environment.read { txn in
            var state = CarriedState()
            state.secrets = [hasher.secret] + hasher.carriedSecrets
            try txn.scan(tables.quarantine) { key, value in
                let record = QuarantineRecord(decoding: value)
                guard record.source == .manual else { return true }
                let node = try nodeRecord(ByteCoding.bigEndian(key, at: 0, as: UInt64.self), txn)
                state.quarantines.append(.init(site: node.site, identifier: node.identifier, record: record))
                return true
            }
            try txn.scan(tables.node) { _, value in
                let node = NodeRecord(copying: value)
                if node.flags.contains(.released), !node.isQuarantined, !node.isErased {
                    state.released.append((node.site, node.identifier))
                }
                return true
            }
            var sites: [UInt64: UInt32] = [:]
            try txn.scan(tables.erasure) { key, value in
                let erasure = ErasureRecord(seq: ByteCoding.bigEndian(key, at: 0, as: UInt64.self), decoding: value)
                state.erasures.append(erasure)
                sites[erasure.seq] = erasure.site
                return true
            }
            try txn.scan(tables.suppress) { key, value in
                let erasure = ByteCoding.littleEndian(value, at: 0, as: UInt64.self)
                state.suppressions.append(.init(site: sites[erasure], hash: Array(key), erasure: erasure))
                return true
            }
            return state
        }
    }

    /// Sets the part of `state` whose sites `belongs` to this shard, in one
    /// write transaction, on a store that holds no events yet: quarantined
    /// and released identifiers are created ahead of their events (as a
    /// quarantine of a value not seen yet is), erasure records are appended
    /// under this store's seqs, the suppression list takes the hashes and
    /// this store carries the secrets they were made under (tested from the
    /// next time the store is opened).
    ///
    /// - Throws: `GraphError.carryIntoStoreWithEvents` when events are stored.
    public func adopt(_ state: CarriedState, where belongs: (UInt32) -> Bool, nowMs: Int64) throws -> CarryReport {
        let report = try writeDraining { txn -> CarryReport in
            var counters = try counters(txn)
            guard counters.events == 0 else { throw GraphError.carryIntoStoreWithEvents(events: counters.events) }
            var report = CarryReport()
            for quarantine in state.quarantines where belongs(quarantine.site) {
                let node = try nodeCreatingIfNeeded(site: quarantine.site, identifier: quarantine.identifier, nowMs: nowMs, &counters, txn)
                guard try !nodeRecord(node, txn).isQuarantined else { continue }
                // The request's own step, on a node with no events yet: the
                // repair finds nothing to split, and the record keeps the
                // operator's reason and time.
                _ = try self.quarantine(node: node, record: quarantine.record, reason: .quarantine, nowMs: nowMs, &counters, txn)
                report.quarantines += 1
            }
            for (site, identifier) in state.released where belongs(site) {
                let node = try nodeCreatingIfNeeded(site: site, identifier: identifier, nowMs: nowMs, &counters, txn)
                var record = try nodeRecord(node, txn)
                guard !record.isQuarantined, !record.flags.contains(.released) else { continue }
                record.flags.insert(.released)
                try txn.put(tables.node, StoreKeys.nodeKey(node), record.bytes)
                report.released += 1
            }
            var erasureSeqs: [UInt64: UInt64] = [:]  // the old store's seq → this one's
            for var erasure in state.erasures where belongs(erasure.site) {
                erasureSeqs[erasure.seq] = counters.nextErasure
                erasure.seq = counters.nextErasure
                try txn.put(tables.erasure, StoreKeys.seqKey(erasure.seq), erasure.encoded(), append: true)
                counters.nextErasure += 1
                report.erasures += 1
            }
            for suppression in state.suppressions where suppression.site.map(belongs) ?? true {
                if try suppress(hash: suppression.hash, erasure: erasureSeqs[suppression.erasure] ?? 0, &counters, txn) {
                    report.suppressions += 1
                }
            }
            if report.suppressions > 0 {
                // Read from the store, not the hasher made at open: an earlier
                // adopt (another shard of the old store) may have added some.
                var carried = try txn.get(tables.meta, IdentifierHasher.carriedSecretsMetaKey).map(IdentifierHasher.carried(decoding:)) ?? []
                for secret in state.secrets where secret != hasher.secret && !carried.contains(secret) { carried.append(secret) }
                try txn.put(tables.meta, IdentifierHasher.carriedSecretsMetaKey, carried.flatMap { $0 })
            }
            try txn.put(tables.meta, GraphCounters.key, counters.encoded())
            return report
        }
        return report
    }
}

extension ShardedGraph {
    /// Sets `state` (read from another store) on this one, each part in the
    /// shard of its site. The store must hold no events yet.
    public func adopt(_ state: CarriedState, nowMs: Int64) throws -> CarryReport {
        // Checked for every shard first, so a refusal writes nothing anywhere.
        let events = try totals().events
        guard events == 0 else { throw GraphError.carryIntoStoreWithEvents(events: events) }
        var total = CarryReport()
        for (index, shard) in shards.enumerated() {
            total = total + (try shard.adopt(state, where: { layout.shard(of: $0) == index }, nowMs: nowMs))
        }
        return total
    }
}
