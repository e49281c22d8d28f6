import StitchStore
import Synchronization

/// The graph's `IndexOverlay`s: the one its last commit published, which
/// readers use, and the one the open write transaction is changing, which
/// it publishes when it commits (or drops when it does not).
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
        /// Oldest first; the last is the latest commit's.
        var published: [IndexOverlay]
        var staged: IndexOverlay?
    }
    private let overlays: Mutex<Overlays>
    /// Readers that rebuilt their overlay from their snapshot's journal
    /// (their snapshot was older than every kept version).
    let rebuilds = Atomic<Int>(0)

    init(generationEvents: Int, loaded: IndexOverlay) {
        self.generationEvents = generationEvents
        overlays = Mutex(Overlays(published: [loaded], staged: nil))
    }

    var isOn: Bool { generationEvents > 0 }

    /// The overlay a write transaction starts from: what an earlier
    /// segment of it staged, else the published one.
    func forWriting() -> IndexOverlay {
        overlays.withLock { $0.staged ?? $0.published[$0.published.count - 1] }
    }

    /// What the open write transaction made of the overlay so far.
    func stage(_ overlay: IndexOverlay) {
        overlays.withLock { $0.staged = overlay }
    }

    /// The write transaction committed: its overlay is the readers' now.
    func commitStaged() {
        overlays.withLock { overlays in
            guard let staged = overlays.staged else { return }
            if staged.state.version != overlays.published[overlays.published.count - 1].state.version {
                if overlays.published.count == Self.publishedKept { overlays.published.removeFirst() }
                overlays.published.append(staged)
            }
            overlays.staged = nil
        }
    }

    /// The write transaction did not commit.
    func rollBack() {
        overlays.withLock { $0.staged = nil }
    }

    /// The overlay of the snapshot whose stored version is `version`, if it
    /// is in memory: a recently published one, or a committed one not yet
    /// published (a commit publishes just after it returns).
    func overlay(version: UInt64) -> IndexOverlay? {
        overlays.withLock { overlays in
            if let staged = overlays.staged, staged.state.version == version { return staged }
            return overlays.published.last { $0.state.version == version }
        }
    }
}
