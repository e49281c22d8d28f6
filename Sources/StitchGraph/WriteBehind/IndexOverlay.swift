import StitchIdentity
import StitchStore

/// The event-index entries that are not in the `event` table yet: the
/// write-behind of the open visits' index (docs/identity.md, "The index's
/// write-behind"; docs/performance.md has what it gives).
///
/// Why: every beacon of a visit in progress adds an entry under the visit's
/// session node and bumps that node's counts. Written per commit, each open
/// visit costs a leaf of `event` and one of `node` in every commit, and at
/// tens of thousands of beacons a second those copied leaves are most of
/// what the checkpoint flushes. Kept here instead, they are written in
/// anchor order, a slice per commit, so a leaf is written once per
/// generation rather than once per commit.
///
/// How: a commit of at most `IndexWriteBehind.batchEventsMax` events
/// appends its entries to the `ejournal` table (key: seq, so each is an
/// append) and to the *active* generation here. When the *frozen*
/// generation has been written out, the active one is frozen: sorted by
/// (anchor, time, seq), then written to `event` a slice per commit, each
/// slice's anchors getting their counts and last-seen time in the same
/// commit. The journal's rows of a written generation are deleted from its
/// head, a few per commit. Events stored without an anchor (anchor 0) are
/// never deferred: a late call match moves them in `event`.
///
/// The durable part (`State`, in `meta`) and the journal say exactly what
/// is here, so an open rebuilds it (`load`), and so can a reader whose
/// snapshot is older than every overlay `IndexWriteBehind` keeps.
struct IndexOverlay: Sendable {
    /// The durable part, written in every commit that changes the overlay.
    struct State: Equatable, Sendable {
        /// The frozen generation's seqs are `frozenStart..<activeStart`;
        /// the active one's are `activeStart...`.
        var frozenStart: UInt64 = 0
        var activeStart: UInt64 = 0
        /// How many of the frozen generation's entries (in its sorted
        /// order) are in `event` already.
        var drained: Int = 0
        /// Journal rows below it have been deleted.
        var journalHead: UInt64 = 0
        /// The apply time (`nowMs`) at which the active generation got its
        /// first entry; 0 while it has none.
        var activeSinceMs: Int64 = 0
        /// Bumped by every commit that changes the overlay: a reader's
        /// snapshot matches the published overlay when their versions do.
        var version: UInt64 = 0

        static let key = Array("indexWriteBehind".utf8)
        static let encodedBytes = 48

        func encoded() -> [UInt8] {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Self.encodedBytes)
            ByteCoding.appendLittleEndian(frozenStart, to: &bytes)
            ByteCoding.appendLittleEndian(activeStart, to: &bytes)
            ByteCoding.appendLittleEndian(UInt64(drained), to: &bytes)
            ByteCoding.appendLittleEndian(journalHead, to: &bytes)
            ByteCoding.appendLittleEndian(activeSinceMs, to: &bytes)
            ByteCoding.appendLittleEndian(version, to: &bytes)
            return bytes
        }

        init() {}

        init(decoding bytes: UnsafeRawBufferPointer) {
            precondition(bytes.count == Self.encodedBytes, "write-behind state of \(bytes.count) bytes")
            frozenStart = ByteCoding.littleEndian(bytes, at: 0, as: UInt64.self)
            activeStart = ByteCoding.littleEndian(bytes, at: 8, as: UInt64.self)
            drained = Int(ByteCoding.littleEndian(bytes, at: 16, as: UInt64.self))
            journalHead = ByteCoding.littleEndian(bytes, at: 24, as: UInt64.self)
            activeSinceMs = ByteCoding.littleEndian(bytes, at: 32, as: Int64.self)
            version = ByteCoding.littleEndian(bytes, at: 40, as: UInt64.self)
        }

        /// The version stored in `txn`'s snapshot (0 for a store that never deferred).
        static func version(_ meta: Table, _ txn: borrowing Transaction) throws -> UInt64 {
            guard let bytes = try txn.get(meta, key) else { return 0 }
            return ByteCoding.littleEndian(bytes, at: 40, as: UInt64.self)
        }
    }

    var state = State()
    /// The frozen generation, sorted; entries before `state.drained` are in `event`.
    private(set) var frozen: [PendingEvent] = []
    /// The active generation in sorted runs, a few large and the newest
    /// small (merged like a binary counter, so a lookup searches O(log n) runs).
    private(set) var runs: [[PendingEvent]] = []
    private(set) var activeCount = 0

    /// Entries not in `event` yet.
    var undrainedCount: Int { frozen.count - state.drained + activeCount }
    var isEmpty: Bool { undrainedCount == 0 }
    var frozenIsDrained: Bool { state.drained == frozen.count }

    // MARK: Reading

    /// The entries of `anchor` not in `event` yet, in (time, seq) order.
    func entries(of anchor: UInt64) -> [PendingEvent] {
        guard !isEmpty else { return [] }
        var found: [PendingEvent] = []
        Self.collect(anchor, in: frozen, from: state.drained, into: &found)
        for run in runs { Self.collect(anchor, in: run, from: 0, into: &found) }
        if found.count > 1 { found.sort() }
        return found
    }

    /// What the entries of `anchor` not in `event` yet add to its node: the
    /// events by type, and the latest event time (`Int64.min` for none).
    func delta(of anchor: UInt64) -> (counts: [EventType: UInt32], lastSeenMs: Int64) {
        var counts: [EventType: UInt32] = [:]
        var lastSeenMs = Int64.min
        for entry in entries(of: anchor) {
            counts[EventType(rawValue: Int(entry.type))!, default: 0] += 1
            lastSeenMs = max(lastSeenMs, entry.timeMs)
        }
        return (counts, lastSeenMs)
    }

    /// The latest event time of `anchor` here, `Int64.min` for none.
    func lastSeenMs(of anchor: UInt64) -> Int64 {
        entries(of: anchor).last?.timeMs ?? .min
    }

    /// Every entry not in `event` yet, in key order.
    func undrained() -> [PendingEvent] {
        var all = Array(frozen[state.drained...])
        for run in runs { all.append(contentsOf: run) }
        all.sort()
        return all
    }

    private static func collect(_ anchor: UInt64, in run: [PendingEvent], from start: Int, into found: inout [PendingEvent]) {
        var low = start, high = run.count
        while low < high {
            let middle = (low + high) / 2
            if run[middle].anchor < anchor { low = middle + 1 } else { high = middle }
        }
        while low < run.count, run[low].anchor == anchor {
            found.append(run[low])
            low += 1
        }
    }

    // MARK: Writing (the writer's copy, inside its transaction)

    /// Adds a commit's entries (sorted) to the active generation.
    mutating func add(sorted entries: [PendingEvent], nowMs: Int64) {
        guard !entries.isEmpty else { return }
        if activeCount == 0 { state.activeSinceMs = nowMs }
        activeCount += entries.count
        runs.append(entries)
        while runs.count >= 2, runs[runs.count - 2].count <= 2 * runs[runs.count - 1].count {
            let newer = runs.removeLast()
            runs[runs.count - 1] = Self.merge(runs[runs.count - 1], newer)
        }
    }

    /// Takes the next `count` entries of the frozen generation to write.
    mutating func takeDrainRun(_ count: Int) -> ArraySlice<PendingEvent> {
        let end = min(frozen.count, state.drained + count)
        let run = frozen[state.drained..<end]
        state.drained = end
        return run
    }

    /// Freezes the active generation, whose seqs end before `nextSeq`.
    mutating func freeze(nextSeq: UInt64) {
        precondition(frozenIsDrained, "freezing over an undrained generation")
        var merged: [PendingEvent] = []
        for run in runs { merged = merged.isEmpty ? run : Self.merge(merged, run) }
        frozen = merged
        runs = []
        activeCount = 0
        state.frozenStart = state.activeStart
        state.activeStart = nextSeq
        state.drained = 0
        state.activeSinceMs = 0
    }

    /// Forgets everything: all of it is in `event` now (`drainAll`), and the
    /// journal is empty; seqs from `nextSeq` on start a new generation.
    mutating func clear(nextSeq: UInt64) {
        frozen = []
        runs = []
        activeCount = 0
        state.frozenStart = nextSeq
        state.activeStart = nextSeq
        state.drained = 0
        state.journalHead = nextSeq
        state.activeSinceMs = 0
    }

    private static func merge(_ a: [PendingEvent], _ b: [PendingEvent]) -> [PendingEvent] {
        var merged: [PendingEvent] = []
        merged.reserveCapacity(a.count + b.count)
        var i = 0, j = 0
        while i < a.count, j < b.count {
            if b[j] < a[i] { merged.append(b[j]); j += 1 } else { merged.append(a[i]); i += 1 }
        }
        merged.append(contentsOf: a[i...])
        merged.append(contentsOf: b[j...])
        return merged
    }

    // MARK: The journal

    /// A journal row's value: anchor, time, type.
    static func journalValue(_ entry: PendingEvent, into bytes: inout [UInt8]) {
        bytes.removeAll(keepingCapacity: true)
        ByteCoding.appendLittleEndian(entry.anchor, to: &bytes)
        ByteCoding.appendLittleEndian(entry.timeMs, to: &bytes)
        bytes.append(entry.type)
    }

    /// The overlay `txn`'s snapshot holds: its state, and the journal's rows
    /// from the frozen generation on.
    static func load(meta: Table, journal: Table, _ txn: borrowing Transaction) throws -> IndexOverlay {
        var overlay = IndexOverlay()
        guard let stored = try txn.get(meta, State.key) else { return overlay }
        overlay.state = State(decoding: stored)
        var frozen: [PendingEvent] = [], active: [PendingEvent] = []
        try txn.scan(journal, from: StoreKeys.seqKey(overlay.state.frozenStart)) { key, value in
            let seq = ByteCoding.bigEndian(key, at: 0, as: UInt64.self)
            let entry = PendingEvent(
                anchor: ByteCoding.littleEndian(value, at: 0, as: UInt64.self),
                timeMs: ByteCoding.littleEndian(value, at: 8, as: Int64.self), seq: seq, type: value[16])
            if seq < overlay.state.activeStart { frozen.append(entry) } else { active.append(entry) }
            return true
        }
        frozen.sort()
        precondition(overlay.state.drained <= frozen.count, "write-behind: \(overlay.state.drained) drained of \(frozen.count)")
        overlay.frozen = frozen
        active.sort()
        if !active.isEmpty { overlay.runs = [active] }
        overlay.activeCount = active.count
        return overlay
    }
}
