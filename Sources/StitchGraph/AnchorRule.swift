/// Which node an event is stored under, one rule for the writer
/// (`BatchWriter.anchor`) and for repairs (`PersonRepair`): the newest of
/// its identifiers in the person that holds most of them; a tie goes to the
/// person whose newest identifier is newest (so the person of the event's
/// newest identifier wins any tie it is in).
///
/// When a guard refused a link, the event's identifiers sit in several
/// persons; the event belongs to where most of them are, not to a lone
/// refused identifier that happens to be newest (an office phone's sixth
/// e-mail would otherwise carry the visitor's form off into a person of its
/// own). Usually all are in one person and the anchor is this visit's
/// session, so events and anchor updates land in the hot tail of their tables.
///
/// The rule depends only on the nodes and their persons, never on the order
/// of a hash table, so every process and every replica picks the same anchor.
enum AnchorRule {
    /// The anchor among `nodes`, each with the person (root or repair part)
    /// it is in; 0 when there are none.
    static func anchor(_ nodes: [(person: UInt64, node: UInt64)]) -> UInt64 {
        var best: (count: Int, newest: UInt64) = (0, 0)
        // Events carry a handful of identifiers: a quadratic scan beats
        // building a dictionary, and its result does not depend on hashing.
        for (index, entry) in nodes.enumerated() {
            if nodes[..<index].contains(where: { $0.person == entry.person }) { continue }  // person counted already
            var count = 0
            var newest: UInt64 = 0
            for other in nodes[index...] where other.person == entry.person {
                count += 1
                newest = max(newest, other.node)
            }
            if (count, newest) > (best.count, best.newest) { best = (count, newest) }
        }
        return best.newest
    }
}
