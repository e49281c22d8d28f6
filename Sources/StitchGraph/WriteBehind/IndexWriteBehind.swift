import StitchStore
import Synchronization

/// The graph's `IndexOverlay`s, by version: those recent commits published,
/// which readers use, and those write transactions staged (the open one's,
/// and a committed one's until it is published). A transaction, reader or
/// writer, uses the one its snapshot's version names
/// (`IdentityGraph.indexOverlay`).
final class IndexWriteBehind: Sendable {
    /// A generation freezes at this many entries (or at `generationAgeMaxMs`);
    /// 0 turns the write-behind off: every entry goes to `event` at once.
    let generationEvents: Int
    /// A generation with fewer entries freezes once its first is this old
    /// (apply time), so a quiet store still writes its index out.
    static let generationAgeMaxMs: Int64 = 10_000
    /// Each commit writes at least this many of the frozen generation's
    /// entries, and twice as many as it deferred: a generation drains
    /// before the next fills.
    static let drainRunMin = 256
    /// A batch this large writes its own entries at once: its beacons share
    /// each open visit's leaf already (unpaced ingest), and journaling them
    /// would only add a put and a delete per event. It still writes a slice
    /// of the frozen generation.
    static let batchEventsMax = 4_000

    /// Published overlays kept for readers whose snapshot is a few commits
    /// old: a lookup that began its transaction just before a commit asks
    /// for its overlay just after. (Versions share their arrays, so each
    /// costs little; without them such a reader rebuilt the overlay from
    /// its snapshot, ~50 ms, in about one lookup in a hundred at 50,000
    /// beacons/s.)
    static let publishedKept = 16

    private struct Overlays {
        /// By version, oldest first; the last is the latest commit's.
        var published: [IndexOverlay]
        /// What write transactions made, by version: the open one's, and a
        /// committed one's until it is published (a commit publishes just
        /// after the write lock is released, so the next write transaction
        /// may begin first and must find it). An aborted transaction's stays
        /// until a later one stages or publishes its version: no snapshot
        /// names it before then.
        var staged: [IndexOverlay]
    }
    private let overlays: Mutex<Overlays>
    /// Readers that rebuilt their overlay from their snapshot's journal
    /// (their snapshot was older than every kept version).
    let rebuilds = Atomic<Int>(0)

    init(generationEvents: Int, loaded: IndexOverlay) {
        self.generationEvents = generationEvents
        overlays = Mutex(Overlays(published: [loaded], staged: []))
    }

    var isOn: Bool { generationEvents > 0 }

    /// The latest published overlay.
    func latest() -> IndexOverlay {
        overlays.withLock { $0.published[$0.published.count - 1] }
    }

    /// What an open write transaction made of the overlay so far.
    func stage(_ overlay: IndexOverlay) {
        overlays.withLock { overlays in
            overlays.staged.removeAll { $0.state.version == overlay.state.version }
            overlays.staged.append(overlay)
        }
    }

    /// A write transaction committed `overlay`: readers of its snapshot use it.
    func publish(_ overlay: IndexOverlay) {
        overlays.withLock { overlays in
            let version = overlay.state.version
            overlays.staged.removeAll { $0.state.version <= version }
            guard !overlays.published.contains(where: { $0.state.version == version }) else { return }
            let index = overlays.published.firstIndex { $0.state.version > version } ?? overlays.published.count
            overlays.published.insert(overlay, at: index)
            if overlays.published.count > Self.publishedKept { overlays.published.removeFirst() }
        }
    }

    /// The overlay of the snapshot whose stored version is `version`, if it
    /// is in memory: a recently published one, or a committed one not yet
    /// published (a commit publishes just after it returns).
    func overlay(version: UInt64) -> IndexOverlay? {
        overlays.withLock { overlays in
            overlays.published.last { $0.state.version == version }
                ?? overlays.staged.last { $0.state.version == version }
        }
    }
}
